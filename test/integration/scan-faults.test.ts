// Scanner faults at the ingress (issue 12): rspamd stopped, rspamd stalled (a fake that never answers), rspamd
// answering garbage, clamd answering garbage: each is 451 4.7.1 with nothing stored; the sender's retry once the
// scanner is back is delivered exactly once. The faults are fakes (failure modes); recovery is the real rspamd/clamd.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import type { DB } from '#data/db.ts';
import { createAuthCheck } from '#mailsystem/checks/auth.ts';
import { type ClamdClient, createClamdClient } from '#mailsystem/checks/clamd.ts';
import { createChecks } from '#mailsystem/checks/index.ts';
import { createRspamdClient, type RspamdClient } from '#mailsystem/checks/rspamd.ts';
import { type Clamd, startClamd } from '../support/clamd.ts';
import { zoneResolver } from '../support/dns-zone.ts';
import { HAM_ZONE, hamMessage, sendFromHamSender } from '../support/mail-corpus.ts';
import { type Harness, mailboxMessages, startHarness } from '../support/mx-harness.ts';
import { type ReservedPort, reservePort } from '../support/ports.ts';
import { type Rspamd, startRspamd } from '../support/rspamd.ts';
import { waitFor } from '../support/wait.ts';

const TIMEOUT_MS = 500;
let rspamd: Rspamd;
let clamd: Clamd;
let h: Harness;
let dir: string;
let db: DB;
let port: number;
/** The clients the checks use right now: each test points them at a fault, then back at the real scanner. */
let spam: RspamdClient;
let virus: ClamdClient;
const fakes: { close(): void }[] = [];
let unused: ReservedPort;

const listen = <T extends Server | net.Server>(server: T): Promise<number> =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));

before(async () => {
  [rspamd, clamd, unused] = await Promise.all([startRspamd({ zone: HAM_ZONE }), startClamd(), reservePort()]);
  spam = createRspamdClient({ url: rspamd.url, timeoutMs: 10_000, maxSockets: 2 });
  virus = createClamdClient({
    host: '127.0.0.1',
    port: clamd.port,
    timeoutMs: 10_000,
    maxConnections: 2,
    streamMaxLength: clamd.streamMaxLength,
  });
  const checks = createChecks({
    authServIds: ['mx.test'],
    auth: createAuthCheck({ resolver: zoneResolver(HAM_ZONE), authServId: 'mx.test', timeoutMs: 5000 }),
    spam: { check: (m, e) => spam.check(m, e), close: () => {} },
    virus: { scan: (m) => virus.scan(m), close: () => {} },
  });
  h = await startHarness(
    {
      domains: ['example.test'],
      addresses: { 'anna@example.test': [{ kind: 'maildir', mailbox: 'anna@example.test' }] },
    },
    { worker: { idlePollMs: 50 } },
    {
      checks,
    },
  );
  ({ db, port, dir } = h);
});

after(async () => {
  await h?.stop();
  for (const f of fakes) f.close();
  unused?.release();
  await Promise.all([rspamd?.stop(), clamd?.stop()]);
});

const send = (marker: string): Promise<string> =>
  sendFromHamSender(port, 'anna@example.test', hamMessage({ headers: [`X-Test-Marker: ${marker}`] }));

const stored = (): number => db.prepare('SELECT count(*) FROM messages').pluck().get() as number;
const copies = (marker: string): number => mailboxMessages(join(dir, 'mail'), 'anna@example.test').filter((m) => m.includes(marker)).length;

/** Sends during the fault (451 4.7.1, nothing stored), restores the real client, sends again: delivered once. */
async function faultThenRecovery(marker: string, fault: () => void, recover: () => void): Promise<void> {
  fault();
  const before = stored();
  const reply = await send(marker);
  assert.match(reply, /^451 4\.7\.1 /, `${marker}: ${reply}`);
  assert.equal(stored(), before, `${marker}: nothing stored`);
  recover();
  assert.match(await send(marker), /^250 /);
  await waitFor(() => copies(marker) === 1, `${marker} delivered after the retry`);
  assert.equal(copies(marker), 1, `${marker}: exactly once`);
}

describe('scanner faults answer 451 4.7.1 and lose nothing', () => {
  it('rspamd stopped (nothing listens)', async () => {
    const real = spam;
    await faultThenRecovery(
      'rspamd-down',
      () => {
        spam = createRspamdClient({ url: `http://127.0.0.1:${unused.port}`, timeoutMs: TIMEOUT_MS, maxSockets: 2 });
      },
      () => {
        spam = real;
      },
    );
  });

  it('rspamd stalled: a server that accepts and never answers', async () => {
    const stall = createServer(() => {});
    fakes.push({ close: () => stall.close() });
    const stallPort = await listen(stall);
    const real = spam;
    await faultThenRecovery(
      'rspamd-stalled',
      () => {
        spam = createRspamdClient({ url: `http://127.0.0.1:${stallPort}`, timeoutMs: TIMEOUT_MS, maxSockets: 2 });
      },
      () => {
        spam = real;
      },
    );
    stall.closeAllConnections();
  });

  it('rspamd answering garbage', async () => {
    const garbage = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"score": "lots"}'));
    fakes.push({ close: () => garbage.close() });
    const garbagePort = await listen(garbage);
    const real = spam;
    await faultThenRecovery(
      'rspamd-garbage',
      () => {
        spam = createRspamdClient({ url: `http://127.0.0.1:${garbagePort}`, timeoutMs: TIMEOUT_MS, maxSockets: 2 });
      },
      () => {
        spam = real;
      },
    );
  });

  it('clamd answering garbage', async () => {
    const garbage = net.createServer((s) => {
      s.on('data', () => s.end('stream: maybe?\0'));
    });
    fakes.push({ close: () => garbage.close() });
    const garbagePort = await listen(garbage);
    const real = virus;
    await faultThenRecovery(
      'clamd-garbage',
      () => {
        virus = createClamdClient({ host: '127.0.0.1', port: garbagePort, timeoutMs: TIMEOUT_MS, maxConnections: 2 });
      },
      () => {
        virus = real;
      },
    );
  });
});
