// Scheduled switches of a domain's mode (issue 13): schedule at a time or with a task phase, cancel, switch now.
// Every write re-sends the domain's record (mode and pending switches) through the change log, with an audit row, in
// one transaction; nodes make a pending switch at its effective time from their replica (modeAt).
import type { MigrationMode } from '#data/contracts/mail-config.ts';
import type { CancelReason, ScheduleSwitchInput } from '#data/contracts/mail-switches.ts';
import { taskRef } from '#data/contracts/tasks.ts';
import type { ServiceContext, Actor } from '../context.ts';
import { Conflict, Invalid, NotFound } from '../../domain/errors.ts';
import { appendChange, domainRecord, findDomain, updateDomain as storeUpdate, type Domain } from '../../store/mail.ts';
import { writeAudit } from '../../store/audit.ts';
import { taskRow } from '../../store/tasks.ts';
import * as store from '../../store/mail-switches.ts';
import { withRelay } from './legacyDefault.ts';

/** As many as a domain record may carry (DomainRecord.switches). */
export const MAX_PENDING_SWITCHES = 100;

/** Appends the domain's current record (mode and pending switches) for the nodes, with an audit row naming what moved. */
export function publishDomain(ctx: ServiceContext, actor: Actor, name: string, action: string, now: string, what: object): Domain {
  const d = findDomain(ctx.db, name);
  if (!d) throw new Error(`domain ${name} vanished`);
  const record = domainRecord(d);
  const version = appendChange(ctx.db, { entity: 'domain', key: d.name, op: 'upsert', record }, now);
  writeAudit(ctx.db, {
    at: now,
    userId: actor.userId,
    actor: actor.name,
    action,
    target: d.name,
    detail: JSON.stringify({ version, ...what, record }),
  });
  return d;
}

function hostedDomain(ctx: ServiceContext, name: string): Domain {
  const d = findDomain(ctx.db, name);
  if (!d) throw new NotFound(`The domain ${name} is not hosted.`);
  return d;
}

/** The phase a switch follows: found by its title within the task, as the transitions job names phases. */
function phaseOf(ctx: ServiceContext, taskId: number, title: string, nowMs: number) {
  if (!taskRow(ctx.db, taskId)) throw new NotFound(`${taskRef(taskId)} does not exist.`);
  const p = store.taskPhases(ctx.db, taskId).find((x) => x.title === title);
  if (!p)
    throw new Invalid(`${taskRef(taskId)} has no phase titled "${title}".`, [{ field: 'phase', message: 'not a phase of that task' }]);
  if (p.startsAt === null)
    throw new Invalid(`The phase "${title}" has no start, so a switch cannot follow it.`, [
      { field: 'phase', message: 'the phase needs a start' },
    ]);
  const atMs = Date.parse(p.startsAt);
  if (atMs <= nowMs)
    throw new Invalid(`The phase "${title}" has already started; use switch now instead.`, [
      { field: 'phase', message: 'already started' },
    ]);
  return { taskId, phaseId: p.id, title, atMs };
}

export function scheduleSwitch({
  ctx,
  actor,
  name,
  input,
}: {
  ctx: ServiceContext;
  actor: Actor;
  name: string;
  input: ScheduleSwitchInput;
}) {
  const now = ctx.clock();
  const nowIso = now.toISOString();
  return ctx.db
    .transaction(() => {
      const hosted = hostedDomain(ctx, name);
      // A switch to legacy or shadow needs the old MX in the record the nodes hold before its time.
      const d = withRelay(ctx.db, hosted, input.mode, 'mode');
      if (d.legacyHost !== hosted.legacyHost) storeUpdate(ctx.db, d, nowIso);
      const phase = input.at === undefined ? phaseOf(ctx, input.taskId!, input.phase!, now.getTime()) : null;
      const atMs = phase ? phase.atMs : Date.parse(input.at!);
      if (atMs <= now.getTime())
        throw new Invalid('A switch is scheduled for a time to come; use switch now instead.', [
          { field: 'at', message: 'must be in the future' },
        ]);
      if ((d.switches?.length ?? 0) >= MAX_PENDING_SWITCHES)
        throw new Conflict(`${d.name} already has ${MAX_PENDING_SWITCHES} pending switches; cancel some first.`);
      const id = store.insertSwitch(
        ctx.db,
        { domainId: d.id, mode: input.mode, atMs, phase, createdBy: actor.userId, createdByName: actor.name },
        nowIso,
      );
      publishDomain(ctx, actor, d.name, 'mail.domain.switch.schedule', nowIso, {
        switch: id,
        mode: input.mode,
        at: new Date(atMs).toISOString(),
      });
      return store.findSwitch(ctx.db, id)!;
    })
    .immediate();
}

function cancel(ctx: ServiceContext, actor: Actor, s: store.SwitchRecord, reason: CancelReason, now: string): void {
  if (!store.markCancelled(ctx.db, s.id, now, reason)) throw new Conflict(`Switch ${s.id} of ${s.domain} is ${s.state}, not pending.`);
  publishDomain(ctx, actor, s.domain, 'mail.domain.switch.cancel', now, { switch: s.id, reason });
}

export function cancelSwitch({ ctx, actor, name, id }: { ctx: ServiceContext; actor: Actor; name: string; id: number }) {
  const now = ctx.clock().toISOString();
  return ctx.db
    .transaction(() => {
      const d = hostedDomain(ctx, name);
      const s = store.findSwitch(ctx.db, id);
      if (!s || s.domainId !== d.id) throw new NotFound(`${d.name} has no switch ${id}.`);
      cancel(ctx, actor, s, 'staff', now);
      return store.findSwitch(ctx.db, id)!;
    })
    .immediate();
}

/**
 * Cancels every pending switch of the domain as superseded by a mode set now (switch-now, or a PATCH that changes the
 * mode); the caller records the mode and re-sends the domain's record in the same transaction.
 */
export function cancelPending(ctx: ServiceContext, d: Domain, now: string): store.SwitchRecord[] {
  const cancelled = store.pendingSwitches(ctx.db, { domainId: d.id });
  for (const s of cancelled) store.markCancelled(ctx.db, s.id, now, 'switch-now');
  return cancelled;
}

/**
 * Rollback (or any switch) at once: the mode is recorded now and every pending switch of the domain is cancelled, so
 * no node flips back at a time it still holds. Nodes pick the change up at their next config sync.
 */
export function switchNow({ ctx, actor, name, mode }: { ctx: ServiceContext; actor: Actor; name: string; mode: MigrationMode }) {
  const now = ctx.clock().toISOString();
  return ctx.db
    .transaction(() => {
      const d = withRelay(ctx.db, hostedDomain(ctx, name), mode, 'mode');
      const cancelled = cancelPending(ctx, d, now);
      storeUpdate(ctx.db, { ...d, mode }, now);
      const domain = publishDomain(ctx, actor, d.name, 'mail.domain.switch.now', now, {
        from: d.mode,
        mode,
        cancelled: cancelled.map((s) => s.id),
      });
      return { domain, cancelled: cancelled.length };
    })
    .immediate();
}

/**
 * After a task's plan was saved (inside that transaction): each pending switch follows its phase's new start, or is
 * cancelled when the phase is gone or has no start; the domains whose switches moved are re-sent to the nodes.
 */
export function followPhases(ctx: ServiceContext, actor: Actor, taskId: number, now: string): void {
  const pending = store.pendingSwitches(ctx.db, { taskId });
  if (pending.length === 0) return;
  const phases = store.taskPhases(ctx.db, taskId);
  const touched = new Map<string, number[]>();
  for (const s of pending) {
    const p = phases.find((x) => x.title === s.task?.phase);
    const atMs = p?.startsAt ? Date.parse(p.startsAt) : null;
    if (p && atMs !== null && atMs === s.atMs) {
      store.moveSwitch(ctx.db, s.id, atMs, p.id);
      continue;
    }
    if (p && atMs !== null) store.moveSwitch(ctx.db, s.id, atMs, p.id);
    else store.markCancelled(ctx.db, s.id, now, 'phase-removed');
    touched.set(s.domain, [...(touched.get(s.domain) ?? []), s.id]);
  }
  for (const [domain, ids] of touched) publishDomain(ctx, actor, domain, 'mail.domain.switch.follow', now, { task: taskId, switches: ids });
}
