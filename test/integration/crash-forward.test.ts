// Crash safety of SMTP forwarding: SIGKILL the node at random moments while it forwards to a loopback
// provider. Nothing 250'd is lost; duplicates (at least once) come only from forwards the provider
// accepted in the last moment before a kill, at most one per delivery in flight.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CONCURRENCY } from '#mailsystem/app.ts';
import type { Route } from '#mailsystem/config/directory.ts';
import { attributeDuplicates, describeDuplicates, loadWithKills } from '../support/crash-run.ts';
import { testIdOf } from '../support/load.ts';
import { MxChild } from '../support/mx-child.ts';
import { reservePort, type ReservedPort } from '../support/ports.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';

const SESSIONS = 10;
const KILLS = 8;
const MAILBOXES = 10;
/** The worker's default concurrency for remote routes (mailsystem/app.ts): no kill can catch more deliveries in flight. */
const IN_FLIGHT = DEFAULT_CONCURRENCY.remote;
/** A copy whose record was lost must lie this close to a kill: the window is a commit, not a batch or a retry. */
const WINDOW_MS = 2000;

describe('crash safety under SIGKILL (SMTP forwarding)', () => {
  let dir: string;
  let provider: SmtpSink;
  let mx: MxChild;
  let port: number;
  let reserved: ReservedPort | undefined;
  before(async () => {
    // No STARTTLS: a handshake per message would only slow the load down.
    provider = await startSmtpSink({ starttls: false });
    dir = mkdtempSync(join(tmpdir(), 'tidings-crash-fwd-'));
    // Every incarnation comes back on this port while the load keeps connecting to it.
    reserved = await reservePort();
    port = reserved.port;
    const addresses: Record<string, Route[]> = {};
    for (let i = 0; i < MAILBOXES; i++) addresses[`user${i}@example.test`] = [{ kind: 'forward', to: `user${i}@provider.test` }];
    mx = new MxChild(dir, port, { domains: ['example.test'], addresses }, 2000, {
      forward: {
        zone: { mx: { 'provider.test': [{ exchange: 'mx.provider.test', priority: 10 }] }, a: { 'mx.provider.test': ['127.0.0.1'] } },
        port: provider.port,
      },
    });
  });
  after(async () => {
    await mx?.kill();
    reserved?.release();
    await provider?.close();
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

    const copies = new Map<string, { to: string[]; at: number }[]>();
    for (const m of provider.messages) {
      const id = testIdOf(m.data);
      assert.ok(id, 'every forwarded message carries its test id');
      copies.set(id, [...(copies.get(id) ?? []), { to: m.to, at: m.at }]);
    }
    for (const [id, rcpt] of result.acked) {
      const got = copies.get(id) ?? [];
      assert.ok(got.length >= 1, `250'd message ${id} lost`);
      const forwardedTo = rcpt.replace('@example.test', '@provider.test');
      for (const c of got) assert.deepEqual(c.to, [forwardedTo], `${id} forwarded to the wrong address`);
    }
    for (const id of copies.keys()) assert.ok(result.acked.has(id) || result.uncertain.has(id), `${id} forwarded but never sent in full`);

    const report = attributeDuplicates(new Map([...copies].map(([id, c]) => [id, c.map((x) => x.at)])), run.killTimes);
    console.log(describeDuplicates('SMTP forwarding', run, report));
    for (const [k, n] of report.perKill.entries())
      assert.ok(n <= IN_FLIGHT, `kill ${k + 1} duplicated ${n} messages, more than can be in flight`);
    assert.ok(report.farthestMs <= WINDOW_MS, `a copy delivered again lies ${Math.round(report.farthestMs)} ms from any kill`);
  });
});
