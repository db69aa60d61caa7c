// Text rules both halves share. The backend refuses any request (a telemetry batch included) holding a control
// character (server/http/validate.ts), and the MX node cleans every string of mail data it ships with the same rule
// (mailsystem/quarantine/entry.ts): one definition, so the two can never drift apart.

/**
 * C0 and C1 controls and DEL, except tab, LF and CR: no field has a use for them, and a NUL cuts SQLite's
 * length() short, so a CHECK on a text column fails (a 500) or passes a value it should not.
 */
export const CONTROL_CHARACTER = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;
/** CONTROL_CHARACTER for replace(): every one. */
export const CONTROL_CHARACTERS = new RegExp(CONTROL_CHARACTER.source, 'g');
