// Redacts one history entry (admins only): its old and new values are overwritten for good; the entry and an audit row say who and when.
import { taskRef } from '#data/contracts/tasks.ts';
import type { ServiceContext, Actor } from '../context.ts';
import { Forbidden, NotFound } from '../../domain/errors.ts';
import { userById } from '../../store/users.ts';
import { taskRow, historyRow, redactHistoryRow, truncateWriteAheadLog } from '../../store/tasks.ts';
import { auditTask } from './audit.ts';
import { historyValues } from '../../store/notify-facts.ts';
import { redactNotifyEvents } from '../notify/redact.ts';

/** `redacted` is false when the entry had been redacted already: redacting twice changes nothing (the first one stands). */
export function redactHistoryEntry({
  ctx,
  actor,
  taskId,
  entryId,
}: {
  ctx: ServiceContext;
  actor: Actor & { userId: number };
  taskId: number;
  entryId: number;
}): { redacted: boolean } {
  const at = ctx.clock().toISOString();
  const redacted = ctx.db
    .transaction(() => {
      const user = userById(ctx.db, actor.userId);
      // The routes check the role as well; checking here keeps any other caller from wiping history.
      if (user?.role !== 'admin' || user.disabled) throw new Forbidden('Only admins may redact task history.');
      if (!taskRow(ctx.db, taskId)) throw new NotFound(`${taskRef(taskId)} does not exist.`);
      const entry = historyRow(ctx.db, taskId, entryId);
      if (!entry) throw new NotFound(`${taskRef(taskId)} has no history entry ${entryId}.`);
      const values = historyValues(ctx.db, entryId);
      if (!redactHistoryRow(ctx.db, entryId, user.id, at)) return false;
      // The outbox quoted the value when it announced the change: it goes there too.
      redactNotifyEvents(ctx.db, taskId, values);
      // Which entry, never what it held: the audit row must not become a second copy of the secret.
      auditTask(ctx.db, { at, actor, action: 'task.redact', taskId, detail: `history entry ${entryId} (${entry.field}, ${entry.at})` });
      return true;
    })
    .immediate();
  if (redacted) {
    // Earlier page images in the write-ahead log still hold the values until it is emptied.
    truncateWriteAheadLog(ctx.db);
    ctx.changes.bump();
  }
  return { redacted };
}
