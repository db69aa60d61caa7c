// Crash safety: SIGKILL the mail system at random moments under load; every 250'd message is in its Maildir exactly once.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeDuplicates, loadWithKills } from '../support/crash-run.ts';
import { maildirUsers } from '../support/fake-directory.ts';
import { scanMaildirs } from '../support/maildir-scan.ts';
import { MxChild } from '../support/mx-child.ts';
import { reservePort, type ReservedPort } from '../support/ports.ts';

const SESSIONS = 20;
const KILLS = 8;
const MAILBOXES = 25;

describe('crash safety under SIGKILL (built-in Maildir)', () => {
  let dir: string;
  let mx: MxChild;
  let port: number;
  let reserved: ReservedPort | undefined;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tidings-crash-'));
    // Every incarnation comes back on this port while the load keeps connecting to it.
    reserved = await reservePort();
    port = reserved.port;
    mx = new MxChild(dir, port, maildirUsers(MAILBOXES));
  });
  after(async () => {
    await mx.kill();
    reserved?.release();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`${KILLS} SIGKILLs under ${SESSIONS} sessions: every 250'd message in its Maildir exactly once`, { timeout: 240_000 }, async () => {
    const run = await loadWithKills({
      mx,
      stateDir: dir,
      port,
      kills: KILLS,
      sessions: SESSIONS,
      recipientFor: (i) => `user${i % MAILBOXES}@example.test`,
    });
    const { result } = run;

    const found = scanMaildirs(join(dir, 'mail'));
    assert.equal(run.killTimes.length, KILLS);
    // The kills land in delivery: the worker had deliveries in hand (leased, Maildir writes under way) when killed.
    assert.ok(
      run.inHandAtKill.some((n) => n > 0),
      `no kill caught a delivery in hand: ${run.inHandAtKill.join(', ')}`,
    );
    assert.ok(result.acked.size >= 200, `only ${result.acked.size} messages were accepted`);
    for (const [id, rcpt] of result.acked) {
      assert.deepEqual(found.get(id), [rcpt], `250'd message ${id} must be in ${rcpt} exactly once`);
    }
    for (const id of result.uncertain) assert.ok((found.get(id)?.length ?? 0) <= 1, `unanswered ${id} stored twice`);
    for (const [id, where] of found) assert.equal(where.length, 1, `${id} stored ${where.length} times`);
    for (const id of found.keys()) assert.ok(result.acked.has(id) || result.uncertain.has(id), `${id} stored but never sent in full`);
    console.log(describeDuplicates('Maildir', run, { perKill: run.killTimes.map(() => 0), total: 0, farthestMs: 0, storedAfterKill: 0 }));
    console.log(`crash test (Maildir): deliveries in hand at each kill: ${run.inHandAtKill.join(', ')}`);
  });
});
