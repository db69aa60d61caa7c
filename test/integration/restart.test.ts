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
import { MxChild } from '../support/mx-child.ts';
import { reservePort, type ReservedPort } from '../support/ports.ts';
import { waitFor } from '../support/wait.ts';

const SESSIONS = 20;
const PER_SESSION = 10_000; // an upper bound: the restarts end the load
const MAILBOXES = 10;
/** Each incarnation answers this many messages 250 before its SIGTERM (and the last before the load ends). */
const ACKED_PER_LIFE = 70;

describe('graceful restart under load', () => {
  let dir: string;
  let port: number;
  let reserved: ReservedPort | undefined;
  let mx: MxChild;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tidings-restart-'));
    // Every incarnation comes back on this port while the load keeps connecting to it.
    reserved = await reservePort();
    port = reserved.port;
    mx = new MxChild(dir, port, maildirUsers(MAILBOXES), 1500);
  });
  after(async () => {
    await mx.kill();
    reserved?.release();
    rmSync(dir, { recursive: true, force: true });
  });

  it('SIGTERM three times mid-load: 0 lost, every answer 250 or 421, each exit 0', { timeout: 240_000 }, async () => {
    await mx.start();
    // The load runs until the third restart is over, and each incarnation does a fixed amount of work
    // first, however fast or busy the machine is. stop() asserts each exit is 0 within the drain.
    let restartsDone = false;
    let stops = 0;
    let ackedInLife = 0;
    const worked = (): Promise<void> =>
      waitFor(
        () => ackedInLife >= ACKED_PER_LIFE,
        () => `${ACKED_PER_LIFE} messages answered 250 by this incarnation (${ackedInLife})`,
        60_000,
      );
    const restarter = (async () => {
      try {
        for (let i = 0; i < 3; i++) {
          await worked();
          await mx.stop();
          stops++;
          ackedInLife = 0;
          await mx.start();
        }
        await worked();
      } finally {
        restartsDone = true; // also when a restart failed: the load must end for the error to surface
      }
    })();
    const result = await runLoad({
      port,
      sessions: SESSIONS,
      perSession: PER_SESSION,
      recipientFor: (i) => `user${i % MAILBOXES}@example.test`,
      shouldStop: () => restartsDone,
      onAcked: () => {
        ackedInLife++;
      },
    });
    await restarter;

    const queued = (): number => {
      const db = new Database(join(dir, 'node.sqlite'), { readonly: true });
      try {
        return db.prepare("SELECT count(*) FROM deliveries WHERE state = 'queued'").pluck().get() as number;
      } finally {
        db.close();
      }
    };
    await waitFor(
      () => queued() === 0,
      () => `queue drained (${queued()} still queued)`,
      60_000,
    );
    await mx.stop();
    stops++;

    assert.equal(stops, 4, 'three restarts during the load, one stop after it');
    assert.deepEqual(result.unexpected, [], 'only 250, 354 and 421 answers');
    assert.equal(result.silentDrops, 0, 'no session was cut off without an answer');
    assert.ok((result.codes.get(421) ?? 0) > 0, 'the drain answered 421 to someone (else the restarts missed the load)');
    for (const text of result.texts421) assert.match(text, /^4\.3\.2 /, 'shutdown answers are 421 4.3.2');
    assert.ok(result.started > 200, `only ${result.started} messages were sent`);
    assert.equal(result.uncertain.size, 0, 'no message went unanswered');
    assert.equal(result.acked.size, result.started, 'every message was eventually accepted');
    const found = scanMaildirs(join(dir, 'mail'));
    for (const [id, rcpt] of result.acked) assert.deepEqual(found.get(id), [rcpt], `${id} lost or duplicated`);
    console.log(`restart test: ${stops} graceful stops, ${result.codes.get(421) ?? 0} × 421, ${result.acked.size} delivered once`);
  });
});
