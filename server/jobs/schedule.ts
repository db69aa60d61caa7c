// Starts and stops the backend's cron jobs; the composition root calls this once and keeps the handle.
import cron, { type ScheduledTask } from 'node-cron';
import { runTransitions, type TransitionDeps, type TransitionOptions } from './transitions.ts';
import { runSwitches } from './switches.ts';
import { DEFAULT_ROLLUP, runTelemetryRollup, type RollupOptions } from './telemetry-rollup.ts';
import { DEFAULT_QUARANTINE_INDEX_RETENTION_MS, runQuarantineIndexPrune } from './quarantine-index-prune.ts';
import { DEFAULT_SHADOW_REPORT_RETENTION_MS, runShadowReportPrune } from './shadow-report-prune.ts';
import { startConfirmationLoop, type ConfirmationLoopOptions } from './subscription-confirmations.ts';
import { startNotifySender, type NotifySenderOptions } from './notify-sender.ts';
import { startWebhookLoop, type WebhookOptions } from './webhooks.ts';
import { announceWaitingStates } from '../services/notify/section-state.ts';

export interface Jobs {
  /** Runs every job once now (start-up catch-up, and tests). */
  runNow(): void;
  stop(): Promise<void>;
}

export interface JobOptions {
  /** Subscriber mail (server/jobs/notify-sender.ts): fan-out and sending, woken by every change, apart from cron. Off when left out. */
  notifyMail?: NotifySenderOptions;
  transitions?: TransitionOptions;
  /** Cron expression; every minute unless a test wants otherwise. */
  every?: string;
  /** Telemetry retentions (config.telemetryRetention); 14 days of minutes and 400 of hours by default. */
  telemetryRollup?: RollupOptions;
  /** Cron expression of the telemetry rollup; every minute unless a test wants otherwise. */
  rollupEvery?: string;
  /**
   * Brings the public snapshot up to date, so each section's state is evaluated (and a change stored) at least every
   * minute even when nobody views the site; createAppWithFastPath's refreshStatus. Off when left out.
   */
  statusRefresh?: () => void;
  /** Cron expression of the status refresh; every minute unless a test wants otherwise. */
  statusEvery?: string;
  /** config.quarantineIndexRetentionMs; 90 days by default. */
  quarantineIndexRetentionMs?: number;
  /** config.shadowReportRetentionMs; 30 days by default. */
  shadowReportRetentionMs?: number;
  /** Double opt-in mails and the 48-hour expiry of unconfirmed requests (server/jobs/subscription-confirmations.ts). Off when left out. */
  confirmations?: ConfirmationLoopOptions;
  /** Webhooks (server/jobs/webhooks.ts): fan-out and sending every second, apart from cron. Off when left out. */
  webhooks?: WebhookOptions;
  /** Cron expression of the check that announces section states the debounce held back; every minute by default. */
  notifyEvery?: string;
}

/** The names the jobs are scheduled under (node-cron's task names). */
export const JOB_NAMES = {
  transitions: 'plan-transitions',
  telemetryRollup: 'telemetry-rollup',
  statusStates: 'status-states',
  quarantineIndexPrune: 'quarantine-index-prune',
  shadowReportPrune: 'shadow-report-prune',
  notifySectionStates: 'notify-section-states',
} as const;

export function startJobs(deps: TransitionDeps, opts: JobOptions = {}): Jobs {
  const transitions = () => {
    try {
      runTransitions(deps, opts.transitions);
    } catch (err) {
      // A failed run changes nothing (per-task transactions); the next minute tries again.
      deps.log.error({ err }, 'plan transitions job failed');
    }
    // Right after the transitions: a phase's own comment comes first, then the one naming the domains it switched.
    // Its own job all the same, as switches at a time belong to no task and a phase's switches apply even where the
    // transitions job stays silent (a closed task, a boundary caught up late).
    try {
      runSwitches(deps);
    } catch (err) {
      // Each phase's (or time's) switches are one transaction: the next minute tries again.
      deps.log.error({ err }, 'mail switch job failed');
    }
  };
  const rollup = () => {
    try {
      runTelemetryRollup(deps, opts.telemetryRollup ?? DEFAULT_ROLLUP);
    } catch (err) {
      // Each period rolls in its own transaction and stays marked until it has: the next minute tries again.
      deps.log.error({ err }, 'telemetry rollup job failed');
    }
  };
  const quarantinePrune = () => {
    try {
      runQuarantineIndexPrune(deps, opts.quarantineIndexRetentionMs ?? DEFAULT_QUARANTINE_INDEX_RETENTION_MS);
    } catch (err) {
      // Each step is its own transaction: the next hour goes on from where this one stopped.
      deps.log.error({ err }, 'quarantine index prune job failed');
    }
  };
  const shadowPrune = () => {
    try {
      runShadowReportPrune(deps, opts.shadowReportRetentionMs ?? DEFAULT_SHADOW_REPORT_RETENTION_MS);
    } catch (err) {
      // Each step is its own transaction: the next hour goes on from where this one stopped.
      deps.log.error({ err }, 'shadow report prune job failed');
    }
  };
  const status = () => {
    try {
      opts.statusRefresh?.();
    } catch (err) {
      // Nothing half-done: the next minute (or page view) evaluates again.
      deps.log.error({ err }, 'status state job failed');
    }
  };
  const notifyStates = () => {
    try {
      announceWaitingStates(deps);
    } catch (err) {
      // One transaction: nothing half-announced; the next minute checks again.
      deps.log.error({ err }, 'section state notification job failed');
    }
  };
  // noOverlap: a slow run (a locked database) is skipped rather than stacked; unref: never keeps the process alive.
  const tasks: ScheduledTask[] = [
    cron.schedule(opts.every ?? '* * * * *', transitions, { name: JOB_NAMES.transitions, noOverlap: true, unref: true }),
    cron.schedule(opts.rollupEvery ?? '* * * * *', rollup, { name: JOB_NAMES.telemetryRollup, noOverlap: true, unref: true }),
    cron.schedule('23 * * * *', quarantinePrune, { name: JOB_NAMES.quarantineIndexPrune, noOverlap: true, unref: true }),
    cron.schedule('29 * * * *', shadowPrune, { name: JOB_NAMES.shadowReportPrune, noOverlap: true, unref: true }),
    cron.schedule(opts.notifyEvery ?? '* * * * *', notifyStates, { name: JOB_NAMES.notifySectionStates, noOverlap: true, unref: true }),
  ];
  if (opts.statusRefresh)
    tasks.push(cron.schedule(opts.statusEvery ?? '* * * * *', status, { name: JOB_NAMES.statusStates, noOverlap: true, unref: true }));
  const webhooks = opts.webhooks ? startWebhookLoop(deps, opts.webhooks) : null;
  const confirmations = opts.confirmations ? startConfirmationLoop(deps, opts.confirmations) : null;
  const notifyMail = opts.notifyMail ? startNotifySender(deps, opts.notifyMail) : null;
  return {
    runNow: () => {
      notifyMail?.kick();
      confirmations?.kick();
      transitions();
      rollup();
      quarantinePrune();
      shadowPrune();
      status();
      notifyStates();
      void webhooks?.tick();
    },
    stop: async () => {
      await notifyMail?.stop();
      await confirmations?.stop();
      await Promise.all([...tasks.map((t) => t.destroy()), webhooks?.stop()]);
    },
  };
}
