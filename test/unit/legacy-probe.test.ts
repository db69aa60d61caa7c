// The legacy recipient probe against a scripted fake SMTP server: verdicts, failures, garbage, timeouts, the cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Resolver } from '#mailsystem/dns/resolver.ts';
import { createLegacyProbe, type LegacyProbeOptions } from '#mailsystem/legacy/probe.ts';

interface Fake {
  port: number;
  connections: number;
  /** Every command line received, across connections. */
  commands: string[];
  close(): Promise<void>;
}

/** rcpt: the reply to RCPT TO for an address; greeting: the first reply (null: say nothing). */
async function fakeSmtp(opts: {
  rcpt?: (address: string) => string | null;
  greeting?: string | null;
  ehlo?: string;
  mail?: string;
}): Promise<Fake> {
  const sockets = new Set<Socket>();
  const fake: Fake = { port: 0, connections: 0, commands: [], close: async () => {} };
  const server: Server = createServer((socket) => {
    fake.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.setEncoding('latin1');
    const greeting = opts.greeting === undefined ? '220 old.test ESMTP' : opts.greeting;
    if (greeting !== null) socket.write(`${greeting}\r\n`);
    let buf = '';
    socket.on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        fake.commands.push(line);
        const verb = line.slice(0, 4).toUpperCase();
        let reply: string | null;
        if (verb === 'EHLO') reply = opts.ehlo ?? '250-old.test\r\n250-PIPELINING\r\n250 8BITMIME';
        else if (verb === 'HELO') reply = '250 old.test';
        else if (verb === 'MAIL') reply = opts.mail ?? '250 2.1.0 Ok';
        else if (verb === 'RCPT') reply = (opts.rcpt ?? (() => '250 2.1.5 Ok'))(/<(.*)>/.exec(line)?.[1] ?? '');
        else if (verb === 'QUIT') {
          socket.end('221 2.0.0 Bye\r\n');
          return;
        } else reply = '502 5.5.2 Error: command not recognized';
        if (reply !== null) socket.write(`${reply}\r\n`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.port = (server.address() as AddressInfo).port;
  fake.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return fake;
}

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
