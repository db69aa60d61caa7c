// The authentication check against a test zone only (no real DNS): a key made here, its DKIM record in
// the zone, SPF and DMARC records beside it; mailauth signs, our check verifies through our Resolver.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { dkimSign, dkimVerify } from 'mailauth';
import { createAuthCheck, mailauthResolver, type AuthVerdict } from '#mailsystem/checks/auth.ts';
import { cleanHeaders } from '#mailsystem/checks/headers.ts';
import { createSystemResolver } from '#mailsystem/dns/system.ts';
import type { Resolver } from '#mailsystem/dns/resolver.ts';
import { startDnsServer, zoneResolver, type Zone } from '../support/dns-zone.ts';

const MX = 'mx1.tidings.test';
const GOOD_IP = '192.0.2.10';
const BAD_IP = '198.51.100.7';
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const keyRecord = `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;

const zone: Zone = {
  a: { 'mail.example.org': [GOOD_IP], 'relay.example.net': [GOOD_IP], 'in.mx-only.test': [GOOD_IP] },
  mx: { 'mx-only.test': [{ exchange: 'in.mx-only.test', priority: 10 }] },
  txt: {
    'relay.example.net': ['v=spf1 a -all'],
    'mx-only.test': ['v=spf1 mx -all'],
    'example.org': ['v=spf1 ip4:192.0.2.10 -all'],
    'sel._domainkey.example.org': [keyRecord],
    '_dmarc.example.org': ['v=DMARC1; p=reject'],
  },
};

const message = (from = 'alice@example.org', body = 'Hello Bob,\r\n\r\nthe minutes are attached.\r\n') =>
  Buffer.from(
    [
      `From: Alice <${from}>`,
      'To: bob@tidings.test',
      'Subject: minutes',
      'Date: Wed, 02 Dec 2026 12:00:00 +0000',
      `Message-ID: <m1@${from.split('@')[1]}>`,
      '',
      body,
    ].join('\r\n'),
  );

async function signed(msg: Buffer): Promise<Buffer> {
  // The key goes in signatureData: mailauth 7 ignores top-level signingDomain/selector/privateKey.
  const key = { signingDomain: 'example.org', selector: 'sel', privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) };
  const { signatures, errors } = await dkimSign(msg, { ...key, signatureData: [key] });
  assert.deepEqual(errors, []);
  assert.match(signatures, /^DKIM-Signature:/);
  return Buffer.concat([Buffer.from(signatures), msg]);
}

const envelope = (ip = GOOD_IP) => ({ ip, helo: 'mail.example.org', mailFrom: 'alice@example.org' });

function done(v: AuthVerdict): Extract<AuthVerdict, { status: 'done' }> {
  assert.equal(v.status, 'done', JSON.stringify(v));
  return v as Extract<AuthVerdict, { status: 'done' }>;
}

describe('auth check', () => {
  const check = createAuthCheck({ resolver: zoneResolver(zone), authServId: MX, timeoutMs: 5000 });

  it('a signed message from an aligned domain and a permitted IP passes SPF, DKIM and DMARC', async () => {
    const v = done(await check(await signed(message()), envelope()));
    assert.deepEqual(v.spf, { result: 'pass', domain: 'example.org' });
    assert.deepEqual(v.dkim, [{ domain: 'example.org', selector: 'sel', result: 'pass' }]);
    assert.deepEqual(v.dmarc, { result: 'pass', policy: 'reject', domain: 'example.org' });
    assert.deepEqual(v.arc, { result: 'none', instance: null });
    assert.match(v.header, new RegExp(`^Authentication-Results: ${MX.replace(/\./g, '\\.')};\\r\\n`));
    assert.match(v.header, /dkim=pass/);
    assert.match(v.header, /spf=pass/);
    assert.match(v.header, /dmarc=pass/);
    assert.doesNotMatch(v.header, /\r\n$/);
  });

  it('an unsigned message from a p=reject domain, sent from an IP its SPF does not permit, fails DMARC with policy reject', async () => {
    const v = done(await check(message(), envelope(BAD_IP)));
    assert.equal(v.spf.result, 'fail');
    assert.deepEqual(v.dkim, []);
    assert.deepEqual(v.dmarc, { result: 'fail', policy: 'reject', domain: 'example.org' });
    assert.match(v.header, /dmarc=fail/);
  });

  it('a tampered body fails DKIM', async () => {
    const good = await signed(message());
    const tampered = Buffer.from(good.toString('latin1').replace('the minutes', 'the invoice'), 'latin1');
    const v = done(await check(tampered, envelope(BAD_IP)));
    assert.equal(v.dkim.length, 1);
    assert.equal(v.dkim[0].result, 'fail');
    assert.equal(v.dmarc.result, 'fail');
  });

  it('a domain without a DMARC record has no policy', async () => {
    const v = done(await check(message('carol@other.test'), { ip: BAD_IP, helo: 'mail.example.org', mailFrom: 'carol@other.test' }));
    assert.equal(v.dmarc.result, 'none');
    assert.equal(v.dmarc.policy, null);
    assert.equal(v.spf.result, 'none');
  });

  it('SPF follows mx and a mechanisms through the Resolver, takes an IPv4-mapped client address, and checks HELO for the null sender', async () => {
    const viaMx = done(await check(message('dan@mx-only.test'), { ip: `::ffff:${GOOD_IP}`, helo: 'x.test', mailFrom: 'dan@mx-only.test' }));
    assert.deepEqual(viaMx.spf, { result: 'pass', domain: 'mx-only.test' });
    const bounce = done(await check(message(), { ip: GOOD_IP, helo: 'relay.example.net', mailFrom: '' }));
    assert.deepEqual(bounce.spf, { result: 'pass', domain: 'relay.example.net' });
  });

  it('a DNS failure on the DMARC record is reported as temperror, not thrown', async () => {
    const failing = createAuthCheck({
      resolver: zoneResolver({ ...zone, fail: { '_dmarc.example.org': 'ESERVFAIL' } }),
      authServId: MX,
      timeoutMs: 5000,
    });
    const v = done(await failing(await signed(message()), envelope()));
    assert.equal(v.dkim[0].result, 'pass');
    assert.equal(v.dmarc.result, 'temperror');
  });

  it('a resolver that never answers gives a timeout verdict within timeoutMs', async () => {
    const never = () => new Promise<never>(() => {});
    const stalled: Resolver = { resolveMx: never, resolve4: never, resolve6: never, resolveTxt: never };
    const timeoutMs = 300;
    const started = performance.now();
    const v = await createAuthCheck({ resolver: stalled, authServId: MX, timeoutMs })(await signed(message()), envelope());
    const took = performance.now() - started;
    assert.equal(v.status, 'error');
    assert.equal(v.status === 'error' && v.reason, 'timeout');
    assert.ok(took >= timeoutMs - 5 && took < timeoutMs + 500, `took ${took} ms`);
  });

  it('header hygiene after the check keeps the DKIM signature valid and leaves one Authentication-Results of ours', async () => {
    const forged = Buffer.concat([
      Buffer.from(`Authentication-Results: ${MX};\r\n\tdkim=pass header.d=bank.example\r\nX-Spam-Flag: NO\r\n`),
      await signed(message()),
    ]);
    const v = done(await check(forged, envelope()));
    const stored = cleanHeaders(forged, { authServIds: MX, prepend: [v.header] });
    const text = stored.toString('latin1');
    assert.equal(text.match(/^Authentication-Results:/gim)?.length, 1);
    assert.ok(text.startsWith(v.header));
    assert.doesNotMatch(text, /bank\.example|X-Spam-Flag/);
    const again = await dkimVerify(stored, { resolver: async (name) => zoneResolver(zone).resolveTxt(name) });
    assert.equal(again.results[0].status.result, 'pass');
  });
});

describe('mailauthResolver', () => {
  it('maps record types to the Resolver, answers ENODATA for types it does not ask, and fails pending queries on abort', async () => {
    const abort = new AbortController();
    const never = () => new Promise<never>(() => {});
    const resolve = mailauthResolver({ ...zoneResolver(zone), resolve6: never }, abort.signal);
    assert.deepEqual(await resolve('mx-only.test', 'MX'), [{ exchange: 'in.mx-only.test', priority: 10 }]);
    assert.deepEqual(await resolve('example.org', 'TXT'), [['v=spf1 ip4:192.0.2.10 -all']]);
    assert.deepEqual(await resolve('mail.example.org', 'A'), [GOOD_IP]);
    await assert.rejects(resolve('10.2.0.192.in-addr.arpa', 'PTR'), { code: 'ENODATA' });
    await assert.rejects(resolve('example.org', 'CNAME'), { code: 'ENODATA' });
    const stalled = resolve('mail.example.org', 'AAAA');
    abort.abort();
    await assert.rejects(stalled, { code: 'ETIMEOUT' });
    await assert.rejects(resolve('example.org', 'TXT'), { code: 'ETIMEOUT' });
  });
});

describe('auth check over UDP DNS (the system resolver against the served zone)', () => {
  let server: Awaited<ReturnType<typeof startDnsServer>>;
  before(async () => {
    server = await startDnsServer(zone);
  });
  after(() => server.close());

  it('TXT records come back as their character-strings, split at 255', async () => {
    const resolver = createSystemResolver({ servers: [`127.0.0.1:${server.port}`], timeoutMs: 2000, tries: 1 });
    const [record] = await resolver.resolveTxt('sel._domainkey.example.org');
    assert.ok(record.length > 1 && record.every((s) => s.length <= 255));
    assert.equal(record.join(''), keyRecord);
    await assert.rejects(resolver.resolveTxt('mail.example.org'), { code: 'ENODATA' });
    await assert.rejects(resolver.resolveTxt('nowhere.example.org'), { code: 'ENOTFOUND' });
  });

  it('a signed message passes through the system resolver', async () => {
    const resolver = createSystemResolver({ servers: [`127.0.0.1:${server.port}`], timeoutMs: 2000, tries: 1 });
    const v = done(await createAuthCheck({ resolver, authServId: MX, timeoutMs: 5000 })(await signed(message()), envelope()));
    assert.deepEqual([v.spf.result, v.dkim[0]?.result, v.dmarc.result], ['pass', 'pass', 'pass']);
    assert.ok(server.queries.includes('TXT _dmarc.example.org'));
  });
});
