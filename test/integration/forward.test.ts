// SMTP forwarding to a loopback "external provider" found through a fake zone: SRS sender, TLS, MX rules, loops, and the bounce path back.
import { effectivePolicy } from '#data/contracts/mail-policy.ts';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase, MIGRATIONS } from '#data/db.ts';
import { applyConfigChanges } from '#mailsystem/config/apply.ts';
import { createReplicaDirectory } from '#mailsystem/config/replica.ts';
import { createForwardTransport } from '#mailsystem/delivery/forward.ts';
import { createLegacyTransport } from '#mailsystem/delivery/legacy.ts';
import type { DeliveryJob } from '#mailsystem/delivery/transport.ts';
import type { Clock } from '#mailsystem/deps.ts';
import { createSrs } from '#mailsystem/srs/srs.ts';
import { zoneResolver, type Zone } from '../support/dns-zone.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';

const now = new Date('2026-11-30T12:00:00Z');
const clock: Clock = { now: () => now.getTime() };
const srs = createSrs({ domain: 'srs.tidings.test', secret: 'test-secret' });
let provider: SmtpSink;
let refusing: SmtpSink;
before(async () => {
  provider = await startSmtpSink();
  refusing = await startSmtpSink({
    refuseRcpt: (a) => (a.startsWith('gone@') ? [550, '5.1.1 no such user here'] : a.startsWith('busy@') ? [451, '4.3.0 try later'] : null),
  });
});
after(async () => {
  await provider?.close();
  await refusing?.close();
});

const zone: Zone = {
  mx: {
    'provider.test': [
      { exchange: 'mx2.provider.test', priority: 20 },
      { exchange: 'mx1.provider.test', priority: 10 },
    ],
    'nullmx.test': [{ exchange: '', priority: 0 }],
    'origin.test': [{ exchange: 'mx.origin.test', priority: 10 }],
  },
  a: {
    'mx1.provider.test': ['127.0.0.1'],
    'mx2.provider.test': ['127.0.0.2'],
    'implicit.test': ['127.0.0.1'],
    'mx.origin.test': ['127.0.0.1'],
  },
  fail: { 'broken-dns.test': 'ESERVFAIL' },
};

function body(extraHeaders = ''): Buffer {
  return Buffer.from(
    `${extraHeaders}Received: from client.test by mx.tidings.test; Mon, 30 Nov 2026 10:00:00 +0000\r\n` +
      'From: Sender <sender@origin.test>\r\nTo: info@example.com\r\nSubject: forwarded\r\nMessage-ID: <fwd@origin.test>\r\n\r\nbody\r\n',
  );
}

function job(to: string, extra: Partial<DeliveryJob> = {}): DeliveryJob {
  return {
    queueId: 'q1',
    deliveryId: 1,
    envelopeFrom: 'Sender@origin.test',
    recipient: 'info@example.com',
    route: { kind: 'forward', to },
    message: body(),
    attempt: 1,
    ...extra,
  };
}

const transport = (port: number, resolver = zoneResolver(zone)) =>
  createForwardTransport({ resolver, srs, clock, heloName: 'mx.tidings.test', port, timeoutMs: 3000 });

test('forward reaches the provider via its preferred MX, with an SRS envelope sender, over STARTTLS', async () => {
  const resolver = zoneResolver(zone);
  const outcome = await transport(provider.port, resolver).deliver(job('someone@provider.test'));
  assert.equal(outcome.kind, 'delivered', outcome.response);
  const [m] = await provider.waitFor(1);
  assert.deepEqual(m.to, ['someone@provider.test']);
  assert.match(m.from, /^SRS0=[^=]+=[A-Z2-7]{2}=origin\.test=Sender@srs\.tidings\.test$/);
  assert.deepEqual(srs.reverse(m.from, now), { ok: true, address: 'Sender@origin.test' });
  assert.equal(m.secure, true, 'opportunistic STARTTLS was used');
  assert.equal(m.heloName, 'mx.tidings.test');
  assert.match(m.data.toString(), /^Delivered-To: info@example\.com\r\nReceived: /);
  assert.ok(resolver.queries.indexOf('A mx1.provider.test') < resolver.queries.indexOf('A mx2.provider.test'), 'lower preference first');
});

test('the bounce sent back to the SRS address resolves to the original sender, and reaches them', async () => {
  const fwd = await transport(provider.port).deliver(job('bounce-me@provider.test'));
  assert.equal(fwd.kind, 'delivered');
  const sent = provider.messages.at(-1)!;
  const db = openDatabase(':memory:', { migrationsDir: MIGRATIONS.node });
  applyConfigChanges(
    db,
    {
      since: 0,
      version: 1,
      more: false,
      reset: false,
      changes: [
        {
          version: 1,
          op: 'upsert',
          entity: 'domain',
          key: 'example.com',
          record: { name: 'example.com', mode: 'active', legacyHost: null, legacyPort: null, catchAll: null },
        },
      ],
    },
    now,
  );
  const dir = createReplicaDirectory({ db, clock, srs });
  const resolution = dir.resolve(sent.from);
  assert.deepEqual(resolution, {
    status: 'ok',
    address: sent.from.toLowerCase(),
    routes: [{ kind: 'forward', to: 'Sender@origin.test' }],
    policy: effectivePolicy({}),
  });
  // The provider bounces (null sender) to the SRS address; the route forwards it to the original sender's MX.
  const before = provider.messages.length;
  const back = await transport(provider.port).deliver({
    ...job('Sender@origin.test'),
    envelopeFrom: '',
    recipient: sent.from,
    message: Buffer.from('From: MAILER-DAEMON@provider.test\r\nSubject: Undelivered\r\n\r\nsorry\r\n'),
  });
  assert.equal(back.kind, 'delivered', back.response);
  const bounce = (await provider.waitFor(before + 1))[before];
  assert.equal(bounce.from, '', 'a bounce keeps the null sender');
  assert.deepEqual(bounce.to, ['Sender@origin.test']);
  assert.deepEqual(dir.resolve(sent.from.replace('Sender', 'Other')), { status: 'unknown-user' });
});

test('implicit MX: a domain without MX records is tried at its A record', async () => {
  const before = provider.messages.length;
  const outcome = await transport(provider.port).deliver(job('x@implicit.test'));
  assert.equal(outcome.kind, 'delivered', outcome.response);
  assert.equal(provider.messages.length, before + 1);
});

test('null MX, non-existent domain → failed; DNS trouble → deferred; no mail is sent', async () => {
  const before = provider.messages.length;
  let o = await transport(provider.port).deliver(job('x@nullmx.test'));
  assert.equal(o.kind, 'failed');
  assert.match(o.response, /^5\.1\.10 .*null MX/);
  o = await transport(provider.port).deliver(job('x@nowhere.test'));
  assert.equal(o.kind, 'failed');
  assert.match(o.response, /^5\.1\.2 /);
  o = await transport(provider.port).deliver(job('x@broken-dns.test'));
  assert.equal(o.kind, 'deferred');
  assert.match(o.response, /^4\.4\.3 .*ESERVFAIL/);
  assert.equal(provider.messages.length, before);
});

test('a forward address without a domain fails for good, before any DNS question', async () => {
  const resolver = zoneResolver(zone);
  const o = await transport(provider.port, resolver).deliver(job('postmaster'));
  assert.equal(o.kind, 'failed');
  assert.match(o.response, /^5\.1\.3 /);
  assert.deepEqual(resolver.queries, []);
});

test('provider replies: 5xx → failed with its text, 4xx → deferred', async () => {
  let o = await transport(refusing.port).deliver(job('gone@provider.test'));
  assert.equal(o.kind, 'failed');
  assert.match(o.response, /^550 5\.1\.1 no such user here/);
  o = await transport(refusing.port).deliver(job('busy@provider.test'));
  assert.equal(o.kind, 'deferred');
  assert.match(o.response, /451/);
});

test('forwarding loops are stopped: Delivered-To already naming this address, or too many hops', async () => {
  const before = provider.messages.length;
  let o = await transport(provider.port).deliver(job('someone@provider.test', { message: body('Delivered-To: INFO@example.com\r\n') }));
  assert.equal(o.kind, 'failed');
  assert.match(o.response, /^5\.4\.6 mail forwarding loop/);
  const hops = 'Received: from a by b; Mon, 30 Nov 2026 10:00:00 +0000\r\n'.repeat(30);
  o = await transport(provider.port).deliver(job('someone@provider.test', { message: body(hops) }));
  assert.equal(o.kind, 'failed');
  assert.match(o.response, /^5\.4\.6 too many hops/);
  assert.equal(provider.messages.length, before);
});

test('legacy relay: envelope and bytes as received, no SRS, no added header', async () => {
  const legacy = createLegacyTransport({
    resolver: zoneResolver({ a: { 'old-mx.test': ['127.0.0.1'] } }),
    heloName: 'mx.tidings.test',
    timeoutMs: 3000,
  });
  const before = provider.messages.length;
  const original = body();
  const o = await legacy.deliver({
    ...job('unused'),
    recipient: 'anna@old.test',
    route: { kind: 'legacy', host: 'old-mx.test', port: provider.port },
    message: original,
  });
  assert.equal(o.kind, 'delivered', o.response);
  const m = (await provider.waitFor(before + 1))[before];
  assert.equal(m.from, 'Sender@origin.test');
  assert.deepEqual(m.to, ['anna@old.test']);
  assert.deepEqual(m.data, original);
});

test('opportunistic TLS: a provider without STARTTLS still gets the mail, in plaintext', async () => {
  const plain = await startSmtpSink({ starttls: false });
  try {
    const o = await transport(plain.port).deliver(job('someone@provider.test'));
    assert.equal(o.kind, 'delivered', o.response);
    const [m] = await plain.waitFor(1);
    assert.equal(m.secure, false);
    assert.match(m.from, /^SRS0=/);
  } finally {
    await plain.close();
  }
});
