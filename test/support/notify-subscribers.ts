// Subscribers and follows written straight into a backend store (as the confirm flow leaves them), and the subscriber
// messages a relay sink received, parsed enough to count them: by recipient, event and Message-ID.
import { randomBytes } from 'node:crypto';
import type { DB } from '#data/db.ts';
import { recordNotifyEvent } from '#server/store/notify.ts';
import type { SinkMessage } from './smtp-sink.ts';

export interface Follow {
  scope: 'all' | 'section' | 'task';
  sectionId?: number;
  taskId?: number;
  /** ISO time of the confirmation; null: not confirmed (the double opt-in link was never followed). */
  confirmedAt: string | null;
}

/** Adds a subscriber with its follows; returns its id. */
export function addSubscriber(db: DB, email: string, follows: Follow[], o: { disabled?: boolean } = {}): number {
  const at = new Date(0).toISOString();
  const id = Number(
    db
      .prepare('INSERT INTO subscribers (email, token_hash, created_at, disabled_at) VALUES (?, ?, ?, ?)')
      .run(email, randomBytes(32).toString('hex'), at, o.disabled ? at : null).lastInsertRowid,
  );
  const add = db.prepare(
    'INSERT INTO subscriptions (subscriber_id, scope, section_id, task_id, created_at, confirmed_at, confirm_hash) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  for (const f of follows)
    add.run(id, f.scope, f.sectionId ?? null, f.taskId ?? null, at, f.confirmedAt, f.confirmedAt ? null : randomBytes(32).toString('hex'));
  return id;
}

/** Many confirmed followers of one section in one transaction (subscriber i is `prefix+i@domain`). */
export function addSectionFollowers(db: DB, sectionId: number, n: number, o: { prefix?: string; domain?: string } = {}): void {
  db.transaction(() => {
    for (let i = 0; i < n; i++)
      addSubscriber(db, `${o.prefix ?? 'sub'}${i}@${o.domain ?? 'example.net'}`, [
        { scope: 'section', sectionId, confirmedAt: new Date(0).toISOString() },
      ]);
  })();
}

export function sectionId(db: DB, slug: string): number {
  return (db.prepare('SELECT id FROM sections WHERE slug = ?').get(slug) as { id: number }).id;
}

/** One header's value (unfolded) from a raw message. */
export function header(data: Buffer, name: string): string | undefined {
  const head = data.toString('utf8').split(/\r?\n\r?\n/, 1)[0] ?? '';
  const re = new RegExp(`^${name}:[ \\t]*((?:.*)(?:\\r?\\n[ \\t].*)*)`, 'im');
  return re
    .exec(head)?.[1]
    ?.replace(/\r?\n[ \t]+/g, ' ')
    .trim();
}

export interface Received {
  to: string;
  messageId: string;
  event: number;
}

/** The subscriber messages a sink holds, with their Message-ID and the event they announce. */
export function received(messages: SinkMessage[]): Received[] {
  return messages.map((m) => ({
    to: m.to.join(','),
    messageId: header(m.data, 'Message-ID') ?? '',
    event: Number(header(m.data, 'X-Tidings-Event')),
  }));
}

/** Markup in mail data (an address, a relay's answer) that staff pages must show as text. */
export const XSS = '<script>alert(1)</script>';

/** An event, a sent row, a queued row waiting after a 4xx, a failed row with markup in the relay's answer, a disabled subscriber. */
export function seedOutbox(db: DB) {
  const email = sectionId(db, 'email');
  const at = new Date(0).toISOString();
  const ok = addSubscriber(db, 'ok@example.net', [{ scope: 'section', sectionId: email, confirmedAt: at }]);
  const slow = addSubscriber(db, 'slow@example.net', [{ scope: 'section', sectionId: email, confirmedAt: at }]);
  const gone = addSubscriber(db, `"${XSS}"@example.net`, [{ scope: 'section', sectionId: email, confirmedAt: at }]);
  const payload = {
    subject: 's',
    text: 't',
    html: '<p>t</p>',
    url: 'http://localhost:8080/task/2733',
    task: null,
    section: null,
    changes: [],
  };
  const event = recordNotifyEvent(db, { kind: 'comment', taskId: 2733, sectionId: email, at, payload });
  const row = db.prepare(
    'INSERT INTO notify_mail (event_id, subscriber_id, state, attempts, next_attempt_at, last_error, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  row.run(event, ok, 'sent', 1, 0, '250 2.0.0 OK', at);
  row.run(event, slow, 'queued', 2, Date.parse('2026-01-15T12:05:00Z'), 'RCPT TO: 451 4.2.0 mailbox busy', null);
  row.run(event, gone, 'failed', 1, Date.parse('2026-01-15T11:00:00Z'), `RCPT TO: 550 5.1.1 ${XSS} unknown`, null);
  db.prepare('UPDATE subscribers SET failures = 3, disabled_at = ?, disabled_reason = ? WHERE id = ?').run(
    '2026-01-15T11:00:00.000Z',
    `3 permanent failures in a row; last: RCPT TO: 550 5.1.1 ${XSS} unknown`,
    gone,
  );
  return { gone };
}
