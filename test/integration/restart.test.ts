// Graceful restart under load: SIGTERM drains with 421 4.3.2, nothing lost, no other answers.
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
const PER_SESSION = 10_000; // an upper bound: the restarts end the load
const MAILBOXES = 10;

describe('graceful restart under load', () => {
  let dir: string;
  let port: number;
  let mx: MxChild;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tidings-restart-'));
    port = await freePort();
    mx = new MxChild(dir, port, maildirUsers(MAILBOXES), 1500);
  });
  after(async () => {
    await mx.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('SIGTERM three times mid-load: 0 lost, every answer 250 or 421, each exit 0', { timeout: 90_000 }, async () => {
    await mx.start();
    // The load runs until the third restart is over, however fast the machine is.
    let restartsDone = false;
    const exits: (number | string | null)[] = [];
    const restarter = (async () => {
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 400));
        exits.push(await mx.stop('SIGTERM'));
        await mx.start();
      }
      await new Promise((r) => setTimeout(r, 300));
      restartsDone = true;
    })();
    const result = await runLoad({
      port, sessions: SESSIONS, perSession: PER_SESSION, recipientFor: (i) => `user${i % MAILBOXES}@example.test`,
      shouldStop: () => restartsDone,
    });
    await restarter;

    const queued = (): number => {
      const db = new Database(join(dir, 'node.sqlite'), { readonly: true });
      try { return db.prepare("SELECT count(*) FROM deliveries WHERE state = 'queued'").pluck().get() as number; } finally { db.close(); }
    };
    await waitFor(() => queued() === 0, 'queue drained', 30_000);
    exits.push(await mx.stop('SIGTERM'));

    assert.equal(exits.length, 4, 'three restarts during the load, one stop after it');
    assert.deepEqual(exits, exits.map(() => 0), 'every graceful stop exits 0');
    assert.deepEqual(result.unexpected, [], 'only 250, 354 and 421 answers');
    assert.equal(result.silentDrops, 0, 'no session was cut off without an answer');
    assert.ok((result.codes.get(421) ?? 0) > 0, 'the drain answered 421 to someone (else the restarts missed the load)');
    for (const text of result.texts421) assert.match(text, /^4\.3\.2 /, 'shutdown answers are 421 4.3.2');
    assert.ok(result.started > 200, `only ${result.started} messages were sent`);
    assert.equal(result.uncertain.size, 0, 'no message went unanswered');
    assert.equal(result.acked.size, result.started, 'every message was eventually accepted');
    const found = scanMaildirs(join(dir, 'mail'));
    for (const [id, rcpt] of result.acked) assert.deepEqual(found.get(id), [rcpt], `${id} lost or duplicated`);
    console.log(`restart test: ${exits.length} graceful stops, ${result.codes.get(421) ?? 0} × 421, ${result.acked.size} delivered once`);
  });
});
