// The system resolver's answer cache, against the zone served over UDP (test/support/dns-zone.ts), counting the
// questions that reach the server; time moves by an injected clock, not by waiting. The served zone gives every
// record a TTL of 60 s.
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { createAuthCheck } from '#mailsystem/checks/auth.ts';
import { createDnsCache } from '#mailsystem/dns/cache.ts';
import { createSystemResolver, type SystemResolverOptions } from '#mailsystem/dns/system.ts';
import { startDnsServer, type DnsServer, type Zone } from '../support/dns-zone.ts';

const zone: Zone = {
  a: { 'mail.example.org': ['192.0.2.10'] },
  aaaa: { 'mail.example.org': ['2001:db8::10'] },
  mx: { 'example.org': [{ exchange: 'mail.example.org', priority: 10 }] },
  txt: {
    'example.org': ['v=spf1 ip4:192.0.2.10 -all'],
    '_dmarc.example.org': ['v=DMARC1; p=none'],
    'a.test': ['a'],
    'b.test': ['b'],
    'c.test': ['c'],
  },
  fail: { 'broken.example.org': 'ESERVFAIL' },
};

describe('DNS answer cache (system resolver against a served zone)', () => {
  let server: DnsServer;
  let clock = 0;
  const now = () => clock;
  const resolver = (cache: SystemResolverOptions['cache'] = {}) =>
    createSystemResolver({ servers: [`127.0.0.1:${server.port}`], timeoutMs: 2000, tries: 1, cache: { now, ...cache } });
  const asked = (q: string) => server.queries.filter((x) => x === q).length;

  before(async () => {
    server = await startDnsServer(zone);
  });
  after(() => server.close());
  beforeEach(() => {
    server.queries.length = 0;
    clock = 1_000_000;
  });

  it('TXT (no TTL from node:dns) is kept for the cap, then asked again', async () => {
    const r = resolver({ maxTtlMs: 10_000 });
    assert.deepEqual(await r.resolveTxt('example.org'), [['v=spf1 ip4:192.0.2.10 -all']]);
    clock += 9_999;
    assert.deepEqual(await r.resolveTxt('EXAMPLE.org.'), [['v=spf1 ip4:192.0.2.10 -all']]);
    assert.equal(asked('TXT example.org'), 1);
    clock += 2;
    assert.deepEqual(await r.resolveTxt('example.org'), [['v=spf1 ip4:192.0.2.10 -all']]);
    assert.equal(asked('TXT example.org'), 2);
  });

  it('A and AAAA are kept for the record TTL (60 s here) when the cap is longer', async () => {
    const r = resolver({ maxTtlMs: 300_000 });
    assert.deepEqual(await r.resolve4('mail.example.org'), ['192.0.2.10']);
    assert.deepEqual(await r.resolve6('mail.example.org'), ['2001:db8::10']);
    clock += 59_000;
    await r.resolve4('mail.example.org');
    await r.resolve6('mail.example.org');
    assert.deepEqual([asked('A mail.example.org'), asked('AAAA mail.example.org')], [1, 1]);
    clock += 2_000;
    assert.deepEqual(await r.resolve4('mail.example.org'), ['192.0.2.10']);
    assert.deepEqual(await r.resolve6('mail.example.org'), ['2001:db8::10']);
    assert.deepEqual([asked('A mail.example.org'), asked('AAAA mail.example.org')], [2, 2]);
  });

  it('the cap shortens a longer TTL', async () => {
    const r = resolver({ maxTtlMs: 5_000 });
    await r.resolve4('mail.example.org');
    clock += 5_001;
    await r.resolve4('mail.example.org');
    assert.equal(asked('A mail.example.org'), 2);
  });

  it('MX is kept, and each caller gets its own copy to sort', async () => {
    const r = resolver();
    const first = await r.resolveMx('example.org');
    first[0].priority = 99;
    first.push({ exchange: 'x', priority: 1 });
    assert.deepEqual(await r.resolveMx('example.org'), [{ exchange: 'mail.example.org', priority: 10 }]);
    const txt = await r.resolveTxt('example.org');
    txt[0].push('mutated');
    assert.deepEqual(await r.resolveTxt('example.org'), [['v=spf1 ip4:192.0.2.10 -all']]);
    assert.deepEqual([asked('MX example.org'), asked('TXT example.org')], [1, 1]);
  });

  it('NXDOMAIN and NODATA are kept for the negative TTL (30 s by default)', async () => {
    const r = resolver({ maxTtlMs: 300_000 });
    await assert.rejects(r.resolveTxt('nowhere.example.org'), { code: 'ENOTFOUND' });
    await assert.rejects(r.resolveTxt('mail.example.org'), { code: 'ENODATA' });
    clock += 29_000;
    await assert.rejects(r.resolveTxt('nowhere.example.org'), { code: 'ENOTFOUND' });
    await assert.rejects(r.resolveTxt('mail.example.org'), { code: 'ENODATA' });
    assert.deepEqual([asked('TXT nowhere.example.org'), asked('TXT mail.example.org')], [1, 1]);
    clock += 2_000;
    await assert.rejects(r.resolveTxt('nowhere.example.org'), { code: 'ENOTFOUND' });
    await assert.rejects(r.resolveTxt('mail.example.org'), { code: 'ENODATA' });
    assert.deepEqual([asked('TXT nowhere.example.org'), asked('TXT mail.example.org')], [2, 2]);
  });

  it('the negative TTL is an option', async () => {
    const r = resolver({ negativeTtlMs: 1_000 });
    await assert.rejects(r.resolveTxt('nowhere.example.org'), { code: 'ENOTFOUND' });
    clock += 1_001;
    await assert.rejects(r.resolveTxt('nowhere.example.org'), { code: 'ENOTFOUND' });
    assert.equal(asked('TXT nowhere.example.org'), 2);
  });

  it('SERVFAIL is not kept: the next question asks again', async () => {
    const r = resolver();
    await assert.rejects(r.resolveTxt('broken.example.org'), { code: 'ESERVFAIL' });
    await assert.rejects(r.resolveTxt('broken.example.org'), { code: 'ESERVFAIL' });
    assert.equal(asked('TXT broken.example.org'), 2);
  });

  it('concurrent identical questions share one query', async () => {
    const r = resolver();
    const answers = await Promise.all(Array.from({ length: 10 }, () => r.resolveTxt('example.org')));
    for (const a of answers) assert.deepEqual(a, [['v=spf1 ip4:192.0.2.10 -all']]);
    assert.equal(new Set(answers).size, 10, 'each caller has its own copy');
    const failures = await Promise.allSettled(Array.from({ length: 5 }, () => r.resolveTxt('broken.example.org')));
    assert.ok(failures.every((f) => f.status === 'rejected' && (f.reason as { code: string }).code === 'ESERVFAIL'));
    assert.deepEqual([asked('TXT example.org'), asked('TXT broken.example.org')], [1, 1]);
  });

  it('holds at most maxEntries answers, dropping the least recently used', async () => {
    const r = resolver({ maxEntries: 2 });
    await r.resolveTxt('a.test');
    await r.resolveTxt('b.test');
    await r.resolveTxt('a.test'); // a is now the most recently used
    await r.resolveTxt('c.test'); // drops b
    assert.equal(r.cacheSize, 2);
    await r.resolveTxt('a.test');
    await r.resolveTxt('c.test');
    assert.deepEqual([asked('TXT a.test'), asked('TXT b.test'), asked('TXT c.test')], [1, 1, 1]);
    await r.resolveTxt('b.test');
    assert.equal(asked('TXT b.test'), 2);
  });

  it('maxTtlMs 0 asks every time', async () => {
    const r = resolver({ maxTtlMs: 0 });
    await r.resolveTxt('example.org');
    await assert.rejects(r.resolveTxt('nowhere.example.org'), { code: 'ENOTFOUND' });
    await r.resolveTxt('example.org');
    await assert.rejects(r.resolveTxt('nowhere.example.org'), { code: 'ENOTFOUND' });
    assert.deepEqual([asked('TXT example.org'), asked('TXT nowhere.example.org')], [2, 2]);
    assert.equal(r.cacheSize, 0);
  });

  it("the auth check's SPF and DMARC questions are asked once for many messages of one sender", async () => {
    const r = resolver();
    const auth = createAuthCheck({ resolver: r, authServId: 'mx.tidings.test', timeoutMs: 5000 });
    const msg = Buffer.from('From: Alice <alice@example.org>\r\nTo: bob@tidings.test\r\nSubject: hi\r\n\r\nHello\r\n');
    for (let i = 0; i < 5; i++) {
      const v = await auth(msg, { ip: '192.0.2.10', helo: 'mail.example.org', mailFrom: 'alice@example.org' });
      assert.equal(v.status, 'done');
      if (v.status === 'done') assert.deepEqual([v.spf.result, v.dmarc.result], ['pass', 'pass']);
    }
    // mailauth's DMARC tree walk (RFC 9989 4.10) asks _dmarc.example.org and _dmarc.org for every message.
    assert.deepEqual([...server.queries].sort(), ['TXT _dmarc.example.org', 'TXT _dmarc.org', 'TXT example.org']);
  });
});

describe('DNS answer cache: failures that are not answers', () => {
  let silent: Socket;
  let received = 0;
  before(async () => {
    silent = createSocket('udp4');
    silent.on('message', () => received++);
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', () => resolve()));
  });
  after(() => new Promise<void>((resolve) => silent.close(() => resolve())));

  it('a timeout is not kept: the next question asks again', async () => {
    const r = createSystemResolver({ servers: [`127.0.0.1:${silent.address().port}`], timeoutMs: 50, tries: 1 });
    await assert.rejects(r.resolveTxt('example.org'), { code: 'ETIMEOUT' });
    const first = received;
    assert.ok(first >= 1);
    await assert.rejects(r.resolveTxt('example.org'), { code: 'ETIMEOUT' });
    assert.ok(received > first, `asked again (${first} then ${received})`);
    assert.equal(r.cacheSize, 0);
  });

  it('rejects nonsense limits', () => {
    assert.throws(() => createDnsCache({ maxEntries: 0 }), /maxEntries/);
    assert.throws(() => createDnsCache({ maxTtlMs: -1 }), /maxTtlMs/);
    assert.throws(() => createDnsCache({ negativeTtlMs: Number.NaN }), /negativeTtlMs/);
  });
});
