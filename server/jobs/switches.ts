// The switch job: makes due scheduled switches their domains' recorded mode, and comments a phase's switches on its task.
// Nodes have already switched at the effective time from their replicas (modeAt); this brings the backend's record, the
// staff pages and the task's timeline in line. Run right after the transitions job (server/jobs/schedule.ts).
import type { MigrationMode } from '#data/contracts/mail-config.ts';
import type { TransitionDeps } from './transitions.ts';
import { MODE_WORDS } from '#data/contracts/mail-switches.ts';
import { renderMarkdown } from '../domain/markdown.ts';
import { utcMinute } from '../domain/timezone.ts';
import { findDomain, updateDomain } from '../store/mail.ts';
import { findSwitch, markApplied, markCancelled, pendingSwitches, type SwitchRecord } from '../store/mail-switches.ts';
import { publishDomain } from '../services/mail/switches.ts';
import { automaticAuthorId, insertComment, touchTask } from './transitions-store.ts';

export type SwitchDeps = Pick<TransitionDeps, 'db' | 'clock' | 'log' | 'changes'>;

export interface SwitchRun {
  applied: number;
  cancelled: number;
  comments: number;
}

const SYSTEM = { userId: null, name: 'system' } as const;

const listWords = (xs: string[]) => (xs.length < 2 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`);

/** "Mail routing: example.com and example.net switched to shadow (parallel operation) at 2021-10-13 00:00 UTC." */
function switchComment(applied: { domain: string; mode: MigrationMode }[], atMs: number): string {
  const modes = [...new Set(applied.map((s) => s.mode))];
  const parts = modes.map((m, i) => {
    const domains = listWords(applied.filter((s) => s.mode === m).map((s) => s.domain));
    return `${domains} ${i === 0 ? 'switched ' : ''}to ${MODE_WORDS[m]}`;
  });
  return `Mail routing: ${listWords(parts)} at ${utcMinute(new Date(atMs).toISOString())}.`;
}

/**
 * One pass: due switches in order of effective time. The switches following one phase (same task, phase and time)
 * are handled in one immediate transaction with their comment; each other switch in its own. A switch is claimed by
 * its state (pending → applied), so any number of runs, in any number of processes, apply it and comment it once.
 */
export function runSwitches(deps: SwitchDeps): SwitchRun {
  const now = deps.clock();
  const run: SwitchRun = { applied: 0, cancelled: 0, comments: 0 };
  const groups = new Map<string, number[]>();
  for (const s of pendingSwitches(deps.db, { dueAt: now.getTime() })) {
    const key = s.task ? `${s.task.id}\n${s.task.phase}\n${s.atMs}` : `#${s.id}`;
    groups.set(key, [...(groups.get(key) ?? []), s.id]);
  }
  for (const ids of groups.values()) deps.db.transaction(() => applyGroup(deps, ids, now, run)).immediate();
  if (run.applied + run.cancelled > 0) {
    deps.changes.bump();
    deps.log.info({ ...run }, 'scheduled mail switches applied');
  }
  return run;
}

function applyGroup(deps: SwitchDeps, ids: number[], now: Date, run: SwitchRun): void {
  const nowIso = now.toISOString();
  const ctx = { db: deps.db, clock: deps.clock, changes: deps.changes };
  const applied: SwitchRecord[] = [];
  for (const id of ids) {
    const s = findSwitch(deps.db, id);
    if (s?.state !== 'pending' || s.atMs > now.getTime()) continue; // another run, a cancel or a moved phase came first
    const d = findDomain(deps.db, s.domain)!;
    if (s.mode !== 'active' && d.legacyHost === null) {
      // Scheduling checked it; the domain lost its old MX since. Recording the mode would break the domain's rule.
      markCancelled(deps.db, s.id, nowIso, 'no-legacy-host');
      publishDomain(ctx, SYSTEM, d.name, 'mail.domain.switch.cancel', nowIso, { switch: s.id, reason: 'no-legacy-host' });
      run.cancelled++;
      continue;
    }
    if (!markApplied(deps.db, s.id, nowIso)) continue;
    updateDomain(deps.db, { ...d, mode: s.mode }, nowIso);
    publishDomain(ctx, SYSTEM, d.name, 'mail.domain.switch.apply', nowIso, { switch: s.id, from: d.mode, mode: s.mode, at: s.at });
    applied.push(s);
    run.applied++;
  }
  const task = applied[0]?.task;
  if (!task) return;
  const author = automaticAuthorId(deps.db, nowIso);
  const body = switchComment(applied, applied[0].atMs);
  // Dated at the effective time, as the transitions job dates a phase's comment at its boundary.
  insertComment(deps.db, task.id, author, applied[0].at, body, renderMarkdown(body));
  touchTask(deps.db, task.id, author, nowIso);
  run.comments++;
}
