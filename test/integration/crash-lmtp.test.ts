// Crash safety towards a real Dovecot over LMTP: SIGKILL the node at random moments under load. Nothing
// 250'd is lost; duplicates (at least once) come only from deliveries Dovecot stored in the last moment
// before a kill, at most one per delivery in flight. Fails when Dovecot is missing (startDovecot throws).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CONCURRENCY } from '#mailsystem/app.ts';
import type { Route } from '#mailsystem/config/directory.ts';
import { attributeDuplicates, describeDuplicates, loadWithKills } from '../support/crash-run.ts';
import { startDovecot, type Dovecot } from '../support/dovecot.ts';
import { dovecotStoredAt, scanMaildirCopies } from '../support/maildir-scan.ts';
import { MxChild } from '../support/mx-child.ts';
import { reservePort, type ReservedPort } from '../support/ports.ts';

const SESSIONS = 10;
const KILLS = 8;
const MAILBOXES = 10;
/** The worker's default concurrency for remote routes (mailsystem/app.ts): no kill can catch more deliveries in flight. */
const IN_FLIGHT = DEFAULT_CONCURRENCY.remote;
/** A copy whose record was lost must lie this close to a kill: the window is a commit, not a batch or a retry. */
const WINDOW_MS = 2000;

describe('crash safety under SIGKILL (LMTP to Dovecot)', () => {
  let dir: string;
  let dovecot: Dovecot;
  let mx: MxChild;
  let port: number;
  let reserved: ReservedPort | undefined;
  before(async () => {
    // CRLF as sent, so the stored copies are read like the built-in Maildir's (X-Test-Id).
    dovecot = await startDovecot({ extraConfig: 'mail_save_crlf = yes' });
    dir = mkdtempSync(join(tmpdir(), 'tidings-crash-lmtp-'));
    // Every incarnation comes back on this port while the load keeps connecting to it.
    reserved = await reservePort();
    port = reserved.port;
    const addresses: Record<string, Route[]> = {};
    for (let i = 0; i < MAILBOXES; i++) {
      const mailbox = `user${i}@example.test`;
      addresses[mailbox] = [{ kind: 'lmtp', mailbox, host: '127.0.0.1', port: dovecot.port }];
    }
    mx = new MxChild(dir, port, { domains: ['example.test'], addresses });
  });
  after(async () => {
    await mx?.kill();
    reserved?.release();
    await dovecot?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`${KILLS} SIGKILLs under ${SESSIONS} sessions: none lost, duplicates only from the moment before a kill`, {
    timeout: 240_000,
  }, async () => {
    const run = await loadWithKills({
      mx,
      stateDir: dir,
      port,
      kills: KILLS,
      sessions: SESSIONS,
      recipientFor: (i) => `user${i % MAILBOXES}@example.test`,
    });
    const { result } = run;
    assert.ok(result.acked.size >= 100, `only ${result.acked.size} messages were accepted`);

    const found = scanMaildirCopies(join(dovecot.dir, 'mail'));
    for (const [id, rcpt] of result.acked) {
      const copies = found.get(id) ?? [];
      assert.ok(copies.length >= 1, `250'd message ${id} lost`);
      for (const c of copies) assert.equal(c.mailbox, rcpt, `${id} stored in the wrong mailbox`);
    }
    for (const id of found.keys()) assert.ok(result.acked.has(id) || result.uncertain.has(id), `${id} stored but never sent in full`);

    const report = attributeDuplicates(
      new Map([...found].map(([id, copies]) => [id, copies.map((c) => dovecotStoredAt(c.file))])),
      run.killTimes,
    );
    console.log(describeDuplicates('LMTP to Dovecot', run, report));
    for (const [k, n] of report.perKill.entries())
      assert.ok(n <= IN_FLIGHT, `kill ${k + 1} duplicated ${n} messages, more than can be in flight`);
    assert.ok(report.farthestMs <= WINDOW_MS, `a copy delivered again lies ${Math.round(report.farthestMs)} ms from any kill`);
  });
});
