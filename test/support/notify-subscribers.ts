// Subscribers and follows written straight into a backend store (as the confirm flow leaves them), and the subscriber
// messages a relay sink received, parsed enough to count them: by recipient, event and Message-ID.
import { randomBytes } from 'node:crypto';
import type { DB } from '#data/db.ts';
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
