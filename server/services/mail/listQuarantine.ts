// The quarantine index for staff: searched, filtered, newest first, a page at a time.
import type { QuarantineReason, QuarantineStatus } from '#data/contracts/quarantine.ts';
import type { DB } from '#data/db.ts';
import { Invalid } from '../../domain/errors.ts';
import { listQuarantine as listIndex, parseCursor, type QuarantineItem } from '../../store/quarantine.ts';

export const QUARANTINE_PAGE_DEFAULT = 50;
export const QUARANTINE_PAGE_MAX = 200;

export interface QuarantineQuery {
  q?: string;
  reason?: QuarantineReason;
  status?: QuarantineStatus;
  node?: string;
  /** The previous page's `next`. */
  before?: string;
  limit?: number;
}

export function listQuarantine(db: DB, query: QuarantineQuery): { items: QuarantineItem[]; next: string | null } {
  const before = query.before === undefined ? undefined : parseCursor(query.before);
  if (query.before !== undefined && !before)
    throw new Invalid('The page cursor is not one this list gave: use the "next" of the previous page.', [
      { field: 'before', message: 'not a page cursor' },
    ]);
  const limit = Math.min(Math.max(query.limit ?? QUARANTINE_PAGE_DEFAULT, 1), QUARANTINE_PAGE_MAX);
  return listIndex(db, { q: query.q?.trim() || undefined, reason: query.reason, status: query.status, node: query.node, before, limit });
}
