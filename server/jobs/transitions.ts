// The plan-transition job: comments each phase start/end once and moves the task's status along the plan.
import type { ServerDeps } from '../deps.ts';
import { crossedTransitions, isNews, planState, statusAfterTransition, transitionComment, type Transition } from '../domain/plan.ts';
import { renderMarkdown } from '../domain/markdown.ts';
import { writeAudit } from '../store/audit.ts';
import * as store from './transitions-store.ts';
import { announceTask } from '../services/notify/task-events.ts';

/** publicUrl: TIDINGS_PUBLIC_URL, for the links of the notifications the jobs write. */
export type TransitionDeps = Pick<ServerDeps, 'db' | 'clock' | 'log' | 'changes'> & { publicUrl: string };

export interface TransitionOptions {
  /** Boundaries older than this when first seen are marked without a comment (default 6 h). */
  catchUpMs?: number;
}

export interface TransitionRun {
  tasks: number;
  comments: number;
  silent: number;
  statusChanges: number;
}

export const DEFAULT_CATCH_UP_MS = 6 * 3_600_000;

/**
 * One pass over every open task with a plan. Each task is handled in its own immediate transaction,
 * so a mark, its comment and the status change commit together or not at all; a crash between tasks
 * leaves the rest for the next run. Safe to call any number of times, from any number of processes.
 */
export function runTransitions(deps: TransitionDeps, opts: TransitionOptions = {}): TransitionRun {
  const { db, log } = deps;
  const catchUpMs = opts.catchUpMs ?? DEFAULT_CATCH_UP_MS;
  const now = deps.clock();
  const nowIso = now.toISOString();
  const run: TransitionRun = { tasks: 0, comments: 0, silent: 0, statusChanges: 0 };

  for (const taskId of store.openTaskIdsWithPlans(db)) {
    const outcome = db.transaction(() => handleTask(deps, taskId, now, nowIso, catchUpMs)).immediate();
    run.tasks++;
    run.silent += outcome.silent;
    if (outcome.commented) run.comments++;
    if (outcome.status) run.statusChanges++;
  }
  if (run.comments > 0) {
    deps.changes.bump();
    log.info({ ...run }, 'plan transitions commented');
  }
  return run;
}

interface TaskOutcome {
  commented: boolean;
  silent: number;
  status: boolean;
}

function handleTask(deps: TransitionDeps, taskId: number, now: Date, nowIso: string, catchUpMs: number): TaskOutcome {
  const { db } = deps;
  const task = store.loadPlannedTask(db, taskId);
  const outcome: TaskOutcome = { commented: false, silent: 0, status: false };
  if (!task) return outcome;

  const news: Transition[] = [];
  const newsMarks: number[] = [];
  for (const t of crossedTransitions(task.phases, now)) {
    const markId = store.claimMark(db, { taskId, phaseId: t.phaseId, phaseTitle: t.phaseTitle, kind: t.kind, at: t.at, handledAt: nowIso });
    if (markId === null) continue; // handled by an earlier run: the whole point
    if (isNews(t, now, catchUpMs) && !store.markedAtSameInstant(db, taskId, t.kind, t.at, markId)) {
      news.push(t);
      newsMarks.push(markId);
    } else {
      outcome.silent++;
    }
  }
  if (news.length === 0) return outcome;

  const author = store.automaticAuthorId(db, nowIso);
  const plan = planState(task.phases, now);
  const body = transitionComment(news, plan);
  // Dated at the boundary, not at the run: the timeline then reads in the order things happened.
  const at = news[news.length - 1].at;
  const bodyHtml = renderMarkdown(body);
  const commentId = store.insertComment(db, taskId, author, at, body, bodyHtml);
  store.linkMarks(db, newsMarks, commentId);

  const target = statusAfterTransition(task.statusName, plan);
  const targetId = target === null ? undefined : store.statusIdByName(db, target);
  const status = target !== null && targetId !== undefined ? { id: targetId, from: task.statusName, to: target } : undefined;
  store.touchTask(db, taskId, author, nowIso, status);
  // One event for the comment and the status it moved: subscribers get the page's comment, not two messages.
  const changes = status ? [{ field: 'status', from: status.from, to: status.to }] : [];
  announceTask(db, deps.publicUrl, taskId, at, () => ({ kind: 'phase-transition', bodyHtml, changes }));
  writeAudit(db, {
    at: nowIso,
    userId: null,
    actor: 'system',
    action: 'task.plan_transition',
    target: `FS#${taskId}`,
    detail: news.map((t) => `${t.phaseTitle}: ${t.kind}`).join('; ') + (status ? `; status ${status.from} → ${status.to}` : ''),
  });
  outcome.commented = true;
  outcome.status = status !== undefined;
  return outcome;
}
