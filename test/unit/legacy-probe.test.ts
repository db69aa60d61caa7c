// The legacy recipient probe against a scripted fake SMTP server: verdicts, failures, garbage, timeouts, the cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resolver } from '#mailsystem/dns/resolver.ts';
import { createLegacyProbe, type LegacyProbeOptions } from '#mailsystem/legacy/probe.ts';
import { fakeSmtp } from '../support/fake-legacy-mx.ts';
import { waitFor } from '../support/wait.ts';

function probeWith(extra: Partial<LegacyProbeOptions> = {}) {
  let now = 1_000_000;
  const clock = { now: () => now };
  const probe = createLegacyProbe({
    heloName: 'mx.test',
    clock,
    timeoutMs: 2000,
    positiveTtlMs: 600_000,
    negativeTtlMs: 120_000,
    ...extra,
  });
  return { probe, advance: (ms: number) => (now += ms) };
}

const known = (a: string) => (a === 'anna@old.test' ? '250 2.1.5 Ok' : '550 5.1.1 <x>: Recipient address rejected: User unknown');

test('2xx to RCPT → exists, 5xx → unknown; the probe says EHLO, MAIL FROM:<>, RCPT and never DATA', async (t) => {
  const fake = await fakeSmtp({ rcpt: known });
  t.after(() => fake.close());
  const { probe } = probeWith();
  assert.equal(await probe.check('127.0.0.1', fake.port, 'anna@old.test'), 'exists');
  assert.equal(await probe.check('127.0.0.1', fake.port, 'nobody@old.test'), 'unknown');
  assert.deepEqual(fake.commands.slice(0, 3), ['EHLO mx.test', 'MAIL FROM:<>', 'RCPT TO:<anna@old.test>']);
  assert.ok(!fake.commands.some((c) => /^(DATA|BDAT)/i.test(c)));
});

test('4xx, a refused MAIL, a bad greeting, garbage, no listener, silence: unavailable, never unknown', async (t) => {
  const cases: Parameters<typeof fakeSmtp>[0][] = [
    { rcpt: () => '450 4.1.1 <x>: Recipient address rejected: unverified address' },
    { mail: '451 4.3.0 try later' },
    { greeting: '554 5.3.2 go away' },
    { rcpt: () => 'hello there, not SMTP' },
    { greeting: 'SSH-2.0-OpenSSH_9.2' },
    { rcpt: () => null }, // never answers RCPT
    { greeting: null }, // never greets
  ];
  const { probe } = probeWith({ timeoutMs: 300 });
  for (const c of cases) {
    const fake = await fakeSmtp(c);
    t.after(() => fake.close());
    assert.equal(await probe.check('127.0.0.1', fake.port, 'anna@old.test'), 'unavailable', JSON.stringify(c));
  }
  // Nothing listens on a port we just freed.
  const gone = await fakeSmtp({});
  const port = gone.port;
  await gone.close();
  assert.equal(await probe.check('127.0.0.1', port, 'anna@old.test'), 'unavailable');
});

test('a system without ESMTP gets HELO', async (t) => {
  const fake = await fakeSmtp({ rcpt: known, ehlo: '502 5.5.1 unrecognized command' });
  t.after(() => fake.close());
  const { probe } = probeWith();
  assert.equal(await probe.check('127.0.0.1', fake.port, 'anna@old.test'), 'exists');
  assert.ok(fake.commands.includes('HELO mx.test'));
});

test('the cache: answers reused within their TTLs (positive and negative apart), failures never, one probe per address in flight', async (t) => {
  const fake = await fakeSmtp({ rcpt: known });
  t.after(() => fake.close());
  const { probe, advance } = probeWith();
  const at = (a: string) => probe.check('127.0.0.1', fake.port, a);
  assert.equal(await at('anna@old.test'), 'exists');
  assert.equal(await at('ANNA@old.test'), 'exists');
  assert.equal(await at('nobody@old.test'), 'unknown');
  assert.equal(await at('nobody@old.test'), 'unknown');
  assert.equal(fake.connections, 2);
  advance(120_001); // past the negative TTL, within the positive one
  assert.equal(await at('anna@old.test'), 'exists');
  assert.equal(await at('nobody@old.test'), 'unknown');
  assert.equal(fake.connections, 3);
  advance(600_000);
  assert.equal(await at('anna@old.test'), 'exists');
  assert.equal(fake.connections, 4);
  // Five RCPTs for one new address at once: one connection.
  const verdicts = await Promise.all([1, 2, 3, 4, 5].map(() => at('new@old.test')));
  assert.deepEqual(verdicts, ['unknown', 'unknown', 'unknown', 'unknown', 'unknown']);
  assert.equal(fake.connections, 5);
  assert.equal(probe.stats.probes, 5);

  // A failure is not remembered: the next RCPT asks again.
  const flaky = await fakeSmtp({ rcpt: () => '421 4.3.2 busy' });
  t.after(() => flaky.close());
  assert.equal(await probe.check('127.0.0.1', flaky.port, 'anna@old.test'), 'unavailable');
  assert.equal(await probe.check('127.0.0.1', flaky.port, 'anna@old.test'), 'unavailable');
  assert.equal(flaky.connections, 2);
});

test('the cache is bounded: a full cache drops its oldest answer', async (t) => {
  const fake = await fakeSmtp({ rcpt: known });
  t.after(() => fake.close());
  const { probe } = probeWith({ maxEntries: 2 });
  const at = (a: string) => probe.check('127.0.0.1', fake.port, a);
  await at('a@old.test');
  await at('b@old.test');
  await at('c@old.test'); // drops a@
  await at('c@old.test');
  await at('b@old.test');
  assert.equal(fake.connections, 3);
  await at('a@old.test');
  assert.equal(fake.connections, 4);
});

test('a legacy host given by name is resolved with the node resolver; no address → unavailable', async (t) => {
  const fake = await fakeSmtp({ rcpt: known });
  t.after(() => fake.close());
  const noData = Object.assign(new Error('no data'), { code: 'ENODATA' });
  const lookups: string[] = [];
  const resolver = {
    resolve4: async (name: string) => {
      lookups.push(name);
      if (name === 'old-mx.test') return ['127.0.0.1'];
      throw noData;
    },
    resolve6: async () => {
      throw noData;
    },
  } as unknown as Resolver;
  const { probe } = probeWith({ resolver });
  assert.equal(await probe.check('old-mx.test', fake.port, 'anna@old.test'), 'exists');
  assert.equal(await probe.check('gone-mx.test', fake.port, 'anna@old.test'), 'unavailable');
  assert.deepEqual(lookups, ['old-mx.test', 'gone-mx.test']);
  assert.equal(fake.connections, 1);
});

test('forget: a domain whose configuration changed is asked again; other domains keep their answers; all at once', async (t) => {
  let anna = '550 5.1.1 unknown';
  const fake = await fakeSmtp({ rcpt: (a) => (a.toLowerCase().startsWith('anna@') ? anna : '550 5.1.1 unknown') });
  t.after(() => fake.close());
  const { probe } = probeWith();
  const at = (a: string) => probe.check('127.0.0.1', fake.port, a);
  assert.equal(await at('anna@old.test'), 'unknown');
  assert.equal(await at('anna@other.test'), 'unknown');
  anna = '250 2.1.5 Ok'; // the old system learnt the address
  assert.equal(await at('anna@old.test'), 'unknown', 'cached');
  probe.forget(['elsewhere.test']);
  assert.equal(await at('anna@old.test'), 'unknown', 'another domain changed');
  assert.equal(fake.connections, 2);
  probe.forget(['old.test']);
  assert.equal(await at('ANNA@old.test'), 'exists');
  assert.equal(await at('anna@other.test'), 'unknown', 'still cached');
  assert.equal(fake.connections, 3);
  probe.forget('all');
  assert.equal(await at('anna@other.test'), 'exists');
  assert.equal(fake.connections, 4);
});

test('forget during a probe in flight: its answer is neither shared with a later RCPT nor kept', async (t) => {
  let release = (_: string) => {};
  const held = new Promise<string>((resolve) => {
    release = resolve;
  });
  let first = true;
  const fake = await fakeSmtp({
    rcpt: () => {
      if (!first) return '250 2.1.5 Ok';
      first = false;
      return held;
    },
  });
  t.after(() => fake.close());
  const { probe } = probeWith();
  const before = probe.check('127.0.0.1', fake.port, 'anna@old.test');
  await waitFor(() => fake.commands.some((c) => c.startsWith('RCPT')), 'the first RCPT');
  probe.forget(['old.test']);
  const afterForget = probe.check('127.0.0.1', fake.port, 'anna@old.test');
  release('550 5.1.1 unknown');
  assert.equal(await before, 'unknown');
  assert.equal(await afterForget, 'exists', 'asked anew, not shared');
  assert.equal(await probe.check('127.0.0.1', fake.port, 'anna@old.test'), 'exists');
  assert.equal(fake.connections, 2);
});

test('at most `concurrency` probes per legacy host: the next waits for a slot, or is unavailable when none frees in time', async (t) => {
  const gates = new Map<string, (reply: string) => void>();
  const fake = await fakeSmtp({ rcpt: (a) => new Promise<string>((resolve) => gates.set(a, resolve)) });
  const other = await fakeSmtp({ rcpt: known });
  t.after(() => Promise.all([fake.close(), other.close()]));
  const { probe } = probeWith({ concurrency: 2, timeoutMs: 5000 });
  const at = (a: string) => probe.check('127.0.0.1', fake.port, a);
  const a = at('a@old.test');
  const b = at('b@old.test');
  const c = at('c@old.test');
  await waitFor(() => gates.size === 2, 'two probes at the RCPT');
  assert.equal(fake.connections, 2, 'the third waits for a slot');
  // Another host is not held up by this one.
  assert.equal(await probe.check('127.0.0.1', other.port, 'anna@old.test'), 'exists');
  gates.get('a@old.test')!('250 2.1.5 Ok');
  assert.equal(await a, 'exists');
  await waitFor(() => gates.has('c@old.test'), 'the waiting probe took the freed slot');
  gates.get('b@old.test')!('550 5.1.1 unknown');
  gates.get('c@old.test')!('250 2.1.5 Ok');
  assert.deepEqual([await b, await c], ['unknown', 'exists']);
  assert.equal(fake.connections, 3);
  assert.equal(probe.stats.saturated, 0);

  // No slot within the timeout: unavailable (451 4.4.3 at RCPT), never unknown.
  const { probe: tight } = probeWith({ concurrency: 1, timeoutMs: 300 });
  gates.clear();
  const held = tight.check('127.0.0.1', fake.port, 'd@old.test');
  await waitFor(() => gates.has('d@old.test'), 'the first probe at the RCPT');
  assert.equal(await tight.check('127.0.0.1', fake.port, 'e@old.test'), 'unavailable');
  assert.equal(tight.stats.saturated, 1);
  assert.equal(await held, 'unavailable', 'the held one times out too');
  assert.ok(!gates.has('e@old.test'), 'the waiting probe never connected');
});
