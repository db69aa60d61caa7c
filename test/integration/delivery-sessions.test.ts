// Issue 13: the copies of one message to one LMTP server or one legacy host go in ONE session (a RCPT TO each), each
// with its own outcome, against a real Dovecot and a real Postfix (the legacy system). A TCP relay in front counts the
// sessions. Fails when Dovecot or Postfix is missing (their helpers throw).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Route } from '#mailsystem/config/directory.ts';
import { createLegacyTransport } from '#mailsystem/delivery/legacy.ts';
import { createLmtpTransport } from '#mailsystem/delivery/lmtp.ts';
import { sendMessage } from '#mailsystem/delivery/smtp-client.ts';
import type { Resolver } from '#mailsystem/dns/resolver.ts';
import { startDovecot } from '../support/dovecot.ts';
import { startHarness, type Harness } from '../support/mx-harness.ts';
import { startLegacyPostfix } from '../support/postfix.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';
import { waitFor } from '../support/wait.ts';

/** Sends one message to all `to` through the node's SMTP ingress; every recipient must be accepted. */
async function sendToAll(h: Harness, to: string[], id: string): Promise<void> {
  const results = await sendMessage({
    host: '127.0.0.1',
    port: h.port,
    heloName: 'client.test',
    from: 'sender@origin.test',
    to,
    timeoutMs: 10_000,
    message: Buffer.from(`From: sender@origin.test\r\nSubject: ${id}\r\nX-Test-Id: ${id}\r\n\r\nhello\r\n`),
  });
  for (const r of to) assert.equal(results.get(r)?.kind, 'delivered', `${r}: ${results.get(r)?.response}`);
}

/** How many RCPT TO commands the client sent in each session through the relay. */
const rcptsPerSession = (proxy: TcpProxy): number[] =>
  proxy.sessions.map((_, i) => proxy.clientLines(i).filter((l) => /^RCPT TO:/i.test(l)).length);

const rows = (h: Harness) =>
  h.db.prepare('SELECT recipient, state, attempts, last_response AS response FROM deliveries ORDER BY id').all() as {
    recipient: string;
    state: string;
    attempts: number;
    response: string;
  }[];

test('LMTP: a message to 5 Dovecot mailboxes is delivered in one session, 5 deliveries recorded, each with its own reply', async (t) => {
  const dovecot = await startDovecot();
  t.after(() => dovecot.stop());
  const proxy = await startTcpProxy(dovecot.port);
  t.after(() => proxy.stop());
  const mailboxes = Array.from({ length: 5 }, (_, i) => `user${i}@example.test`);
  const addresses: Record<string, Route[]> = {};
  for (const m of mailboxes) addresses[m] = [{ kind: 'lmtp', mailbox: m, host: '127.0.0.1', port: proxy.port }];
  // One remote session in hand: the first claim takes one copy, the other four join its session from the queue.
  const h = await startHarness(
    { domains: ['example.test'], addresses },
    { worker: { idlePollMs: 50, concurrency: { remote: 1 } } },
    { transports: { lmtp: createLmtpTransport({ heloName: 'mx.test', timeoutMs: 5000 }) } },
  );
  t.after(() => h.stop());

  await sendToAll(h, mailboxes, 'five-mailboxes');
  await waitFor(() => rows(h).every((r) => r.state === 'delivered'), 'five deliveries recorded', { timeoutMs: 15_000, intervalMs: 20 });

  for (const m of mailboxes) assert.equal(dovecot.delivered(m).length, 1, `${m} has one copy`);
  assert.deepEqual(rcptsPerSession(proxy), [5], 'one LMTP session with five RCPT TO');
  for (const r of rows(h)) {
    assert.equal(r.attempts, 1);
    assert.ok(r.response.includes(`<${r.recipient}>`), `${r.recipient} recorded its own reply: ${r.response}`);
  }
  const events = h.db
    .prepare("SELECT recipient, route_kind AS route, latency_ms AS latency FROM events WHERE type = 'delivered'")
    .all() as {
    recipient: string;
    route: string;
    latency: number;
  }[];
  assert.deepEqual(events.map((e) => e.recipient).sort(), mailboxes);
  for (const e of events) {
    assert.equal(e.route, 'lmtp');
    assert.ok(typeof e.latency === 'number' && e.latency >= 0, `latency ${e.latency}`);
  }
});

test('legacy relay: a message to 4 recipients of a legacy domain reaches Postfix in one session and lands once per recipient', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-legacy-sessions-'));
  const locals = ['anna', 'bert', 'cora', 'dirk'];
  const domain = 'legacy.example';
  const { pf, reserved } = await startLegacyPostfix(dir, { domain, mailboxes: locals, processLimit: 10 });
  t.after(async () => {
    await pf.stop();
    reserved.release();
    rmSync(dir, { recursive: true, force: true });
  });
  const proxy = await startTcpProxy(reserved.port);
  t.after(() => proxy.stop());
  const recipients = locals.map((l) => `${l}@${domain}`);
  const addresses: Record<string, Route[]> = {};
  for (const r of recipients) addresses[r] = [{ kind: 'legacy', host: '127.0.0.1', port: proxy.port }];
  const h = await startHarness(
    { domains: [domain], addresses },
    { worker: { idlePollMs: 50 } },
    // The legacy host is an IP address: no name lookup happens.
    { transports: { legacy: createLegacyTransport({ resolver: {} as Resolver, heloName: 'mx.test', timeoutMs: 5000 }) } },
  );
  t.after(() => h.stop());

  await sendToAll(h, recipients, 'four-legacy');
  const stored = (local: string): string[] => {
    const d = join(pf.maildirRoot, domain, local, 'Maildir', 'new');
    return existsSync(d) ? readdirSync(d).map((f) => readFileSync(join(d, f), 'latin1')) : [];
  };
  await waitFor(() => locals.every((l) => stored(l).length > 0) && pf.queueEmpty(), 'every copy in Postfix', {
    timeoutMs: 30_000,
    intervalMs: 50,
  });
  await waitFor(() => rows(h).every((r) => r.state === 'delivered'), 'four deliveries recorded', { timeoutMs: 10_000, intervalMs: 20 });

  for (const l of locals) {
    assert.equal(stored(l).length, 1, `${l} got one copy`);
    assert.match(stored(l)[0], /X-Test-Id: four-legacy/);
  }
  assert.deepEqual(rcptsPerSession(proxy), [4], 'one SMTP session with four RCPT TO');
  assert.equal(h.db.prepare("SELECT count(*) FROM events WHERE type = 'delivered' AND route_kind = 'legacy'").pluck().get(), 4);
});
