// Issue 13: partial success in one multi-recipient session. A recipient refused with 4xx is deferred and retried alone,
// one refused with 5xx bounces alone (one DSN, naming it), the others are delivered once: over LMTP (refusals at RCPT
// and in the per-recipient replies after DATA) and over SMTP to the legacy relay (refusals at RCPT). The servers are
// smtp-server fakes written for these failure modes; a TCP relay in front counts the sessions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Route } from '#mailsystem/config/directory.ts';
import { createLegacyTransport } from '#mailsystem/delivery/legacy.ts';
import { createLmtpTransport } from '#mailsystem/delivery/lmtp.ts';
import { sendMessage } from '#mailsystem/delivery/smtp-client.ts';
import type { Transports } from '#mailsystem/delivery/transport.ts';
import type { Resolver } from '#mailsystem/dns/resolver.ts';
import { mailboxMessages, startHarness, type Harness } from '../support/mx-harness.ts';
import { type SinkOptions, startSmtpSink } from '../support/smtp-sink.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';
import { waitFor } from '../support/wait.ts';

const SENDER = 'sender@example.test'; // hosted, so a DSN lands in its Maildir
const [OK1, OK2, BUSY, GONE] = ['ok1', 'ok2', 'busy', 'gone'].map((l) => `${l}@example.test`);

/** Refuses `address` with `reply` the first time it is asked, accepts it afterwards. */
function once(address: string, reply: [number, string]): (a: string) => [number, string] | null {
  let asked = 0;
  return (a) => (a === address && asked++ === 0 ? reply : null);
}

interface Run {
  h: Harness;
  proxy: TcpProxy;
  sink: Awaited<ReturnType<typeof startSmtpSink>>;
}

async function run(
  t: { after(fn: () => Promise<void>): void },
  sinkOpts: SinkOptions,
  route: (proxyPort: number, address: string) => Route,
  transports: Transports,
): Promise<Run> {
  const sink = await startSmtpSink({ starttls: false, ...sinkOpts });
  const proxy = await startTcpProxy(sink.port);
  const addresses: Record<string, Route[]> = { [SENDER]: [{ kind: 'maildir', mailbox: SENDER }] };
  for (const a of [OK1, OK2, BUSY, GONE]) addresses[a] = [route(proxy.port, a)];
  const h = await startHarness(
    { domains: ['example.test'], addresses },
    { retry: { firstRetryMs: 300 }, worker: { idlePollMs: 50 } },
    { transports },
  );
  t.after(async () => {
    await h.stop();
    await proxy.stop();
    await sink.close();
  });
  const results = await sendMessage({
    host: '127.0.0.1',
    port: h.port,
    heloName: 'client.test',
    from: SENDER,
    to: [OK1, OK2, BUSY, GONE],
    timeoutMs: 10_000,
    message: Buffer.from(`From: ${SENDER}\r\nSubject: partial\r\n\r\nhello\r\n`),
  });
  for (const [r, o] of results) assert.equal(o.kind, 'delivered', `${r} accepted by the node: ${o.response}`);
  await waitFor(() => state(h, BUSY) !== 'queued' && state(h, GONE) !== 'queued', 'every copy final', {
    timeoutMs: 15_000,
    intervalMs: 20,
  });
  return { h, proxy, sink };
}

const state = (h: Harness, rcpt: string): string =>
  h.db.prepare('SELECT state FROM deliveries WHERE recipient = ? ORDER BY id LIMIT 1').pluck().get(rcpt) as string;

/** The RCPT TO addresses of each session through the relay. */
const rcpts = (proxy: TcpProxy): string[][] =>
  proxy.sessions.map((_, i) =>
    proxy
      .clientLines(i)
      .filter((l) => /^RCPT TO:/i.test(l))
      .map((l) => l.replace(/^RCPT TO:<([^>]*)>.*$/i, '$1')),
  );

function assertPartial({ h, proxy, sink }: Run, firstSessionDelivered: string[]): void {
  for (const [r, s] of [
    [OK1, 'delivered'],
    [OK2, 'delivered'],
    [BUSY, 'delivered'],
    [GONE, 'bounced'],
  ])
    assert.equal(state(h, r), s, r);
  // Session 1: all four; session 2: the deferred one alone.
  assert.deepEqual(rcpts(proxy), [[OK1, OK2, BUSY, GONE], [BUSY]]);
  assert.deepEqual(
    sink.messages.map((m) => m.to),
    [firstSessionDelivered, [BUSY]],
  );
  const events = (type: string) =>
    (h.db.prepare('SELECT recipient FROM events WHERE type = ? ORDER BY seq').pluck().all(type) as string[]).filter((r) => r !== SENDER);
  assert.deepEqual(events('delivered').sort(), [BUSY, OK1, OK2]);
  assert.deepEqual(events('deferred'), [BUSY]);
  assert.deepEqual(events('bounced'), [GONE]);
  const attempts = h.db.prepare('SELECT recipient, attempts FROM deliveries WHERE recipient <> ? ORDER BY id').all(SENDER);
  assert.deepEqual(attempts, [
    { recipient: OK1, attempts: 1 },
    { recipient: OK2, attempts: 1 },
    { recipient: BUSY, attempts: 2 },
    { recipient: GONE, attempts: 1 },
  ]);
}

async function oneDsnFor(h: Harness, rcpt: string, reply: RegExp): Promise<void> {
  await waitFor(() => mailboxMessages(h.maildirRoot, SENDER).length > 0, 'the DSN in the sender Maildir', { timeoutMs: 10_000 });
  const dsns = mailboxMessages(h.maildirRoot, SENDER).map((b) => b.toString('utf8'));
  assert.equal(dsns.length, 1);
  assert.ok(dsns[0].includes(`${rcpt}: `), dsns[0]);
  assert.match(dsns[0], reply);
}

test('LMTP: RCPT 451 defers that mailbox alone (retried alone), a 550 after DATA bounces it alone, the others delivered once', async (t) => {
  const r = await run(
    t,
    {
      lmtp: true,
      refuseRcpt: once(BUSY, [451, '4.2.1 try again later']),
      lmtpDataReply: (a) => (a === GONE ? [550, '5.1.1 mailbox gone'] : null),
    },
    (port, mailbox) => ({ kind: 'lmtp', mailbox, host: '127.0.0.1', port }),
    { lmtp: createLmtpTransport({ heloName: 'mx.test', timeoutMs: 5000 }) },
  );
  // LMTP: the sink stores before it answers each recipient, so the refused one is in the first message's envelope.
  assertPartial(r, [OK1, OK2, GONE]);
  await oneDsnFor(r.h, GONE, /550 5\.1\.1 mailbox gone/);
});

test('legacy relay (SMTP): RCPT 451 defers that recipient alone (retried alone), RCPT 550 bounces it alone, the others delivered once', async (t) => {
  const busy = once(BUSY, [451, '4.3.0 busy, try later']);
  const r = await run(
    t,
    { refuseRcpt: (a) => (a === GONE ? [550, '5.1.1 no such user'] : busy(a)) },
    (port) => ({ kind: 'legacy', host: '127.0.0.1', port }),
    { legacy: createLegacyTransport({ resolver: {} as Resolver, heloName: 'mx.test', timeoutMs: 5000 }) },
  );
  assertPartial(r, [OK1, OK2]);
  await oneDsnFor(r.h, GONE, /550 5\.1\.1 no such user/);
});
