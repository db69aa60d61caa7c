// Announces a section's public state change in the outbox (issue 14), in the caller's transaction: staff overrides at
// once, automatic changes (telemetry, tasks) debounced per section, with a periodic check for those that waited.
import type { ServiceState } from '#data/contracts/states.ts';
import type { DB } from '#data/db.ts';
import type { Clock } from '../../deps.ts';
import { shouldAnnounce } from '../../domain/notify-debounce.ts';
import { sectionStatePayload } from '../../domain/notify-payload.ts';
import { recordNotifyEvent } from '../../store/notify.ts';
import { sectionById } from '../../store/notify-facts.ts';
import { announcedState, setAnnounced, statesNotAnnounced } from '../../store/notify-debounce.ts';
import type { StateChange } from '../../store/state-changes.ts';

export interface SectionStateNews {
  sectionId: number;
  /** When it changed (the clock's reading; also what the debounce window is measured with). */
  at: string;
  state: ServiceState;
  reason: string;
  /** A staff override: announced at once. */
  deliberate: boolean;
}

/** Writes a section-state event if subscribers are to hear of `news` now; returns whether it did. */
export function announceSectionState(db: DB, publicUrl: string, news: SectionStateNews): boolean {
  const section = sectionById(db, news.sectionId);
  if (!section) return false;
  const announced = announcedState(db, news.sectionId);
  if (!announced && !news.deliberate) {
    setAnnounced(db, news.sectionId, news.state, null); // the section's first stored state: a baseline, not news
    return false;
  }
  if (!shouldAnnounce(announced, news.state, new Date(news.at), news.deliberate)) return false;
  recordNotifyEvent(db, {
    kind: 'section-state',
    taskId: null,
    sectionId: section.id,
    at: news.at,
    payload: sectionStatePayload(publicUrl, section, { from: announced?.state ?? null, to: news.state, reason: news.reason }),
  });
  setAnnounced(db, news.sectionId, news.state, news.at);
  return true;
}

/** For recordStateIfChanged: a stored change is announced in its transaction (an override at once, others debounced). */
export function announceStoredChange(db: DB, publicUrl: string, change: StateChange): (sectionId: number) => void {
  return (sectionId) => {
    const { at, state, reason } = change;
    announceSectionState(db, publicUrl, { sectionId, at, state, reason, deliberate: change.source === 'override' });
  };
}

/**
 * The periodic check (every minute, server/jobs/schedule.ts): each section whose latest stored state differs from the
 * one announced and whose window has passed is announced now. Returns how many were.
 */
export function announceWaitingStates(deps: { db: DB; clock: Clock; publicUrl: string }): number {
  const at = deps.clock().toISOString();
  return deps.db
    .transaction(() => {
      let n = 0;
      for (const w of statesNotAnnounced(deps.db))
        if (
          announceSectionState(deps.db, deps.publicUrl, { sectionId: w.sectionId, at, state: w.state, reason: w.reason, deliberate: false })
        )
          n++;
      return n;
    })
    .immediate();
}
