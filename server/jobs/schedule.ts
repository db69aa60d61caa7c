// Starts and stops the backend's cron jobs; the composition root calls this once and keeps the handle.
import cron from 'node-cron';
import { runTransitions, type TransitionDeps, type TransitionOptions } from './transitions.ts';

export interface Jobs {
  /** Runs every job once now (start-up catch-up, and tests). */
  runNow(): void;
  stop(): Promise<void>;
}

export interface JobOptions {
  transitions?: TransitionOptions;
  /** Cron expression; every minute unless a test wants otherwise. */
  every?: string;
}

export function startJobs(deps: TransitionDeps, opts: JobOptions = {}): Jobs {
  const runOnce = () => {
    try {
      runTransitions(deps, opts.transitions);
    } catch (err) {
      // A failed run changes nothing (per-task transactions); the next minute tries again.
      deps.log.error({ err }, 'plan transitions job failed');
    }
  };
  // noOverlap: a slow run (a locked database) is skipped rather than stacked; unref: never keeps the process alive.
  const task = cron.schedule(opts.every ?? '* * * * *', runOnce, { name: 'plan-transitions', noOverlap: true, unref: true });
  return {
    runNow: runOnce,
    stop: async () => {
      await task.destroy();
    },
  };
}
