// Crash safety: SIGKILL the mail system at random moments under load; every 250 is delivered once.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { maildirUsers } from '../support/fake-directory.ts';
import { runLoad } from '../support/load.ts';
import { scanMaildirs } from '../support/maildir-scan.ts';
import { MxChild, freePort } from '../support/mx-child.ts';
import { waitFor } from '../support/mx-harness.ts';

const SESSIONS = 20;
const PER_SESSION = 100;
const MAILBOXES = 25;

describe('crash safety under SIGKILL', () => {
  let dir: string;
  let mx: MxChild;
  let port: number;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tidings-crash-'));
    port = await freePort();
    mx = new MxChild(dir, port, maildirUsers(MAILBOXES));
  });
  after(async () => {
    await mx.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it(`${SESSIONS * PER_SESSION} messages over ${SESSIONS} sessions: every 250'd message in its Maildir exactly once`, { timeout: 110_000 }, async () => {
    await mx.start();
    let loadDone = false;
    let kills = 0;
    const killer = (async () => {
      while (!loadDone) {
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 400));
        if (loadDone) break;
        await mx.stop('SIGKILL');
        kills++;
        await mx.start();
      }
    })();
    const result = await runLoad({ port, sessions: SESSIONS, perSession: PER_SESSION, recipientFor: (i) => `user${i % MAILBOXES}@example.test` });
    loadDone = true;
    await killer;

    // Let the last incarnation deliver everything still queued, then stop it gracefully.
    const queued = (): number => {
      const db = new Database(join(dir, 'node.sqlite'), { readonly: true });
      try { return db.prepare("SELECT count(*) FROM deliveries WHERE state = 'queued'").pluck().get() as number; } finally { db.close(); }
    };
    await waitFor(() => queued() === 0, 'queue drained', 60_000);
    assert.equal(await mx.stop('SIGTERM'), 0, 'graceful stop exits 0');

    const found = scanMaildirs(join(dir, 'mail'));
    assert.ok(kills >= 3, `only ${kills} kills happened; the test must crash the process several times`);
    assert.ok(result.acked.size >= SESSIONS * PER_SESSION * 0.8, `only ${result.acked.size} messages were accepted`);
    for (const [id, rcpt] of result.acked) {
      assert.deepEqual(found.get(id), [rcpt], `250'd message ${id} must be in ${rcpt} exactly once`);
    }
    for (const id of result.uncertain) assert.ok((found.get(id)?.length ?? 0) <= 1, `unanswered ${id} stored twice`);
    for (const [id, where] of found) assert.equal(where.length, 1, `${id} stored ${where.length} times`);
    for (const id of found.keys()) assert.ok(result.acked.has(id) || result.uncertain.has(id), `${id} stored but never sent in full`);
    console.log(`crash test: ${kills} SIGKILLs, ${result.acked.size} acked, ${result.uncertain.size} unanswered, ${found.size} stored`);
  });
});
