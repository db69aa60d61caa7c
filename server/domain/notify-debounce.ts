// Pure: when a section's public state change is announced to subscribers (issue 14). Automatic changes (telemetry,
// tasks) at most once per section per window; deliberate ones (staff overrides) at once.
import type { ServiceState } from '#data/contracts/states.ts';

export const SECTION_STATE_DEBOUNCE_MS = 15 * 60_000;

/** What subscribers were last told; announcedAt null: never (a baseline), so the window is open. */
export interface Announced {
  state: ServiceState;
  announcedAt: string | null;
}

/** Whether the announcement window after the last announcement has passed at `now`. */
function windowOpen(announced: Announced, now: Date, windowMs = SECTION_STATE_DEBOUNCE_MS): boolean {
  return announced.announcedAt === null || now.getTime() - Date.parse(announced.announcedAt) >= windowMs;
}

/**
 * Whether `state` is announced now. A section with nothing announced yet takes an automatic state as its baseline
 * (no news); a state equal to the one announced is no news; otherwise a deliberate change goes at once and an
 * automatic one when the window is open (else it waits for the periodic check).
 */
export function shouldAnnounce(
  announced: Announced | undefined,
  state: ServiceState,
  now: Date,
  deliberate: boolean,
  windowMs = SECTION_STATE_DEBOUNCE_MS,
): boolean {
  if (!announced) return deliberate;
  if (announced.state === state) return false;
  return deliberate || windowOpen(announced, now, windowMs);
}
