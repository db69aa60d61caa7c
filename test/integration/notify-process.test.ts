// Subscriber mail through `npm start`'s entry (server/main.ts, a real process) and a loopback relay (smtp-server): a
// staff comment on FS#2733 reaches a confirmed subscriber of the Email section once; and with 500 subscribers, a
// SIGKILL while the relay holds messages mid-transfer, then a restart: every subscriber gets the message, nobody gets
// two different Message-IDs for it, and the copies sent twice are at most the messages in flight at the kill.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { addStaff } from '#server/services/users/addStaff.ts';
import { openBackendStore } from '#server/store/open.ts';
import { killHard } from '../support/child.ts';
import { addSectionFollowers, received, sectionId } from '../support/notify-subscribers.ts';
import { startServerMain, type ServerMain } from '../support/server-main.ts';
import { startSmtpSink } from '../support/smtp-sink.ts';
import { waitFor } from '../support/wait.ts';

/** The sender's defaults (server/jobs/notify-sender.ts): 5 relay connections, 20 messages in flight. */
const CONNECTIONS = 5;
const IN_FLIGHT = 20;

async function prepare(followers: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-notify-'));
  const db = openBackendStore(dir);
  const ctx = { db, clock: () => new Date(), changes: { bump() {}, version: () => 0 } };
  await addStaff({
    ctx,
    actor: { userId: null, name: 'test' },
    input: { username: 'ops', role: 'staff', password: 'correct horse battery', displayName: 'Ops' },
  });
  addSectionFollowers(db, sectionId(db, 'email'), followers);
  db.close();
  return dir;
}

const start = (dir: string, relayPort: number) =>
  startServerMain({ TIDINGS_ROLE: 'backend', TIDINGS_STATE_DIR: dir, TIDINGS_NOTIFY_SMTP_URL: `smtp://127.0.0.1:${relayPort}` });

/** A staff comment on FS#2733 through the API, as staff post one. */
async function postComment(server: ServerMain, body: string): Promise<void> {
  const login = await fetch(`${server.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'ops', password: 'correct horse battery' }),
  });
  assert.equal(login.status, 200);
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  const { csrfToken } = (await login.json()) as { csrfToken: string };
  const res = await fetch(`${server.url}/api/v1/tasks/2733/comments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrfToken },
    body: JSON.stringify({ body }),
  });
  assert.equal(res.status, 201, await res.text());
}

function mailRows(dir: string): { queued: number; sent: number; failed: number } {
  const db = new Database(join(dir, 'backend.sqlite'), { readonly: true });
  try {
    const n = { queued: 0, sent: 0, failed: 0 };
    for (const r of db.prepare('SELECT state, count(*) AS n FROM notify_mail GROUP BY state').all() as {
      state: keyof typeof n;
      n: number;
    }[])
      n[r.state] = r.n;
    return n;
  } finally {
    db.close();
  }
}

test('a staff comment on FS#2733 reaches a confirmed subscriber of the Email section once', async () => {
  const dir = await prepare(1);
  const sink = await startSmtpSink({ starttls: false });
  const server = await start(dir, sink.port);
  try {
    await postComment(server, 'The relay test comment');
    await waitFor(() => sink.messages.some((m) => m.data.includes('The relay test comment')), 'the comment at the relay');
    await waitFor(() => mailRows(dir).queued === 0, 'nothing left queued');
    await server.stop();
  } finally {
    await killHard(server.child);
    await sink.close();
  }
  const ofComment = sink.messages.filter((m) => m.data.includes('The relay test comment'));
  assert.equal(ofComment.length, 1);
  assert.deepEqual(ofComment[0]!.to, ['sub0@example.net']);
});

test('SIGKILL in the middle of sending 500 messages, then a restart: everyone gets it, under one Message-ID each', async (t) => {
  const dir = await prepare(500);
  // The relay answers the first 200 messages at once, then holds each one whose data it has read (no 250 yet) until
  // the backend is killed: those are the messages in flight at the kill, one per relay connection.
  let arrived = 0;
  let held = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const sink = await startSmtpSink({
    starttls: false,
    hold: async () => {
      if (++arrived <= 200) return;
      held++;
      await gate;
    },
  });
  let server = await start(dir, sink.port);
  try {
    await postComment(server, 'Crash test comment');
    await waitFor(
      () => held === CONNECTIONS,
      () => `every relay connection holding a message (${held})`,
      30_000,
    );
    await killHard(server.child);
    const atKill = mailRows(dir);
    release();
    t.diagnostic(`at the kill: ${atKill.sent} rows marked sent, ${atKill.queued} queued, ${held} messages held by the relay`);
    assert.ok(atKill.queued > 0 && atKill.sent >= 200 - IN_FLIGHT, `killed mid-sending: ${JSON.stringify(atKill)}`);
    server = await start(dir, sink.port);
    await waitFor(
      () => mailRows(dir).queued === 0,
      () => `the restarted backend to send the rest (${JSON.stringify(mailRows(dir))})`,
      60_000,
    );
    await server.stop();
  } finally {
    await killHard(server.child);
    await sink.close();
  }
  assert.deepEqual(mailRows(dir), { queued: 0, sent: 500, failed: 0 });
  const got = received(sink.messages.filter((m) => m.data.includes('Crash test comment')));
  const ids = new Map<string, Set<string>>();
  for (const r of got) ids.set(r.to, (ids.get(r.to) ?? new Set()).add(r.messageId));
  assert.equal(ids.size, 500, 'every subscriber got the message');
  for (const [to, set] of ids) assert.equal(set.size, 1, `${to} got one Message-ID, not ${[...set].join(', ')}`);
  const duplicates = got.length - 500;
  t.diagnostic(`copies received twice (same Message-ID): ${duplicates}`);
  assert.ok(duplicates <= IN_FLIGHT, `${duplicates} duplicates, more than the ${IN_FLIGHT} messages that can be in flight`);
});
