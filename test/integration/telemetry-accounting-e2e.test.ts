// End to end with real processes (issue 10, "Done when"): the backend (server/main.ts, role backend) and one MX node
// (mailsystem/main.ts), as `npm start` runs them with the backend separate, a real Dovecot LMTP and a loopback SMTP
// provider. 500 messages with a known mix: Maildir, LMTP, three recipients in one message, unknown recipients,
// oversize, bare LF, forwards to a provider that is down for a while and then comes back, and forwards the provider
// refuses (bounced, each answered by a DSN). The backend is stopped for part of the run and started again on the same
// database. At the end the public API behind the charts reports exactly the counts the SMTP replies imply, and the
// accounting line balances with unaccounted 0.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SectionTelemetryResponse } from '#data/contracts/telemetry-charts.ts';
import { openDatabase, type DB } from '#data/db.ts';
import { accounting } from '#server/services/telemetry/accounting.ts';
import { telemetrySummary } from '#server/services/telemetry/summary.ts';
import { killHard } from '../support/child.ts';
import { startDovecot, type Dovecot } from '../support/dovecot.ts';
import { spawnShippingNode, type MainNode } from '../support/mx-main.ts';
import { mailCli, startServerMain, type ServerMain } from '../support/server-main.ts';
import { RawSmtp } from '../support/smtp-client.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';
import { waitFor } from '../support/wait.ts';

const started: (MainNode | ServerMain)[] = [];
const dirs: string[] = [];
const dbs: DB[] = [];
let dovecot: Dovecot | undefined;
let provider: SmtpSink | undefined;
after(async () => {
  for (const db of dbs) db.close();
  for (const p of started) await killHard(p.child);
  await provider?.close().catch(() => {});
  await dovecot?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const MAX_BYTES = 20_000;
type Kind = 'maildir' | 'lmtp' | 'three' | 'unknown' | 'oversize' | 'bare-lf' | 'forward' | 'refused-forward';
/** The mix: 500 messages. */
const MIX: Record<Kind, number> = {
  maildir: 200,
  lmtp: 100,
  three: 50,
  unknown: 60,
  oversize: 30,
  'bare-lf': 10,
  forward: 40,
  'refused-forward': 10,
};
const RECIPIENTS: Record<Kind, string[]> = {
  maildir: ['anna@example.com'],
  lmtp: ['bob@example.com'],
  three: ['anna@example.com', 'bob@example.com', 'fwd@example.com'],
  unknown: ['nobody@example.com'],
  oversize: ['anna@example.com'],
  'bare-lf': ['anna@example.com'],
  forward: ['fwd@example.com'],
  'refused-forward': ['gone@example.com'],
};
const ROUTE: Record<string, 'maildir' | 'lmtp' | 'forward'> = {
  'anna@example.com': 'maildir',
  'bob@example.com': 'lmtp',
  'fwd@example.com': 'forward',
  'gone@example.com': 'forward',
};

/** What the SMTP replies said, tallied as they come; the backend must end with exactly what they imply. */
const said = {
  messages: 0,
  deliveries: { maildir: 0, lmtp: 0, forward: 0 },
  /** Accepted recipients the provider will refuse: each bounces and gets a DSN. */
  refused: 0,
  rejected: { 'unknown-user': 0, 'too-big': 0, 'bare-newline': 0 } as Record<string, number>,
};

function body(kind: Kind, i: number): string {
  const head = `From: sender@origin.test\r\nTo: someone@example.com\r\nSubject: mix ${kind} ${i}\r\n\r\n`;
  if (kind === 'oversize') return `${head}${'x'.repeat(76)}\r\n`.repeat(1 + Math.ceil(MAX_BYTES / 78));
  if (kind === 'bare-lf') return `${head}one line\nsmuggled: yes\r\n`;
  return `${head}message ${i} of kind ${kind}\r\n`;
}

/** One SMTP session; the replies are tallied by what they say, not by what was meant. */
async function send(port: number, kind: Kind, i: number): Promise<void> {
  const c = await RawSmtp.connect(port);
  try {
    const rcpts = RECIPIENTS[kind];
    const replies = await c.open('sender@origin.test', rcpts);
    const ok = rcpts.filter((_, j) => replies[j].startsWith('250'));
    for (const [j, r] of replies.entries()) {
      if (r.startsWith('250')) continue;
      assert.match(r, /^550 5\.1\.1/, `RCPT ${rcpts[j]}: ${r}`);
      said.rejected['unknown-user']++;
    }
    if (ok.length > 0) {
      assert.match((await c.cmd('DATA')) ?? '', /^354/);
      c.write(`${body(kind, i)}.\r\n`);
      const reply = (await c.read(15_000)) ?? '';
      if (reply.startsWith('250')) {
        said.messages++;
        for (const r of ok) said.deliveries[ROUTE[r]]++;
        if (ok.includes('gone@example.com')) said.refused++;
      } else if (/^552 5\.3\.4/.test(reply)) said.rejected['too-big']++;
      else if (/^550 5\.6\.0 Bare/.test(reply)) said.rejected['bare-newline']++;
      else assert.fail(`${kind} ${i}: DATA answered ${reply}`);
    }
    await c.cmd('QUIT');
  } finally {
    c.close();
  }
}

/** Sends the messages with a few sessions at a time (under the per-address session cap). */
async function sendAll(port: number, batch: { kind: Kind; i: number }[], sessions = 6): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: sessions }, async () => {
      while (next < batch.length) {
        const m = batch[next++];
        await send(port, m.kind, m.i);
      }
    }),
  );
}

test('500 messages through real processes: the charts API reports exactly what the SMTP replies imply, unaccounted 0', {
  timeout: 180_000,
}, async () => {
  const t0 = Date.now();
  dovecot = await startDovecot();
  provider = await startSmtpSink({ refuseRcpt: (a) => (a === 'gone@provider.test' ? [550, '5.1.1 no such user here'] : null) });
  const providerPort = provider.port;
  const backendDir = mkdtempSync(join(tmpdir(), 'tidings-acc-backend-'));
  const nodeDir = mkdtempSync(join(tmpdir(), 'tidings-acc-node-'));
  dirs.push(backendDir, nodeDir);
  await mailCli(backendDir, 'domain', 'add', 'example.com');
  await mailCli(backendDir, 'mailbox', 'add', 'anna@example.com');
  await mailCli(backendDir, 'mailbox', 'add', 'bob@example.com', '--lmtp', `127.0.0.1:${dovecot.port}`);
  await mailCli(backendDir, 'alias', 'add', 'fwd@example.com', 'friend@provider.test');
  await mailCli(backendDir, 'alias', 'add', 'gone@example.com', 'gone@provider.test');
  const token = (await mailCli(backendDir, 'node-token', 'mx-e2e')).trim();
  const backendEnv = { TIDINGS_STATE_DIR: backendDir, TIDINGS_ROLE: 'backend' };
  let backend = await startServerMain(backendEnv);
  started.push(backend);
  const node = await spawnShippingNode(nodeDir, backend.url, token, {
    TIDINGS_TELEMETRY_BATCH: '50',
    TIDINGS_SMTP_MAX_MESSAGE_BYTES: String(MAX_BYTES),
    TIDINGS_FORWARD_RELAY: `127.0.0.1:${providerPort}`,
    TIDINGS_QUEUE_FIRST_RETRY: '1s',
  });
  started.push(node);
  const nodeDb = openDatabase(join(nodeDir, 'mx', 'node.sqlite'));
  const backendDb = openDatabase(join(backendDir, 'backend.sqlite'));
  dbs.push(nodeDb, backendDb);
  await waitFor(
    () => (nodeDb.prepare('SELECT count(*) FROM replica_aliases').pluck().get() as number) === 2,
    'the node synced the mail configuration',
    { timeoutMs: 30_000, intervalMs: 100 },
  );

  // The 500, interleaved (a fixed order), in four parts with the outages between them.
  const all: { kind: Kind; i: number }[] = [];
  for (const [kind, n] of Object.entries(MIX) as [Kind, number][]) for (let i = 0; i < n; i++) all.push({ kind, i });
  assert.equal(all.length, 500);
  for (let i = all.length - 1; i > 0; i--) {
    const j = (i * 7919) % (i + 1);
    [all[i], all[j]] = [all[j], all[i]];
  }
  const part = (k: number) => all.slice(k * 125, (k + 1) * 125);
  const queued = () => nodeDb.prepare("SELECT count(*) FROM deliveries WHERE state = 'queued'").pluck().get() as number;
  const lastSeq = () => nodeDb.prepare('SELECT coalesce(max(seq), 0) FROM events').pluck().get() as number;

  await sendAll(node.port, part(0));
  // The provider goes down: forwards are deferred and retried.
  await provider.close();
  await sendAll(node.port, part(1));
  // Mid-run, with forwards waiting: a queue reading paired after these messages balances too, with deliveries queued.
  const seqNow = lastSeq();
  await waitFor(
    () => (backendDb.prepare('SELECT count(*) FROM telemetry_checkpoints WHERE seq >= ?').pluck().get(seqNow) as number) > 0,
    'a queue reading paired after the second part',
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  const midAt = Date.now();
  const mid = accounting(backendDb, { from: t0, to: midAt }, new Date(midAt));
  assert.ok(mid && mid.queued !== null && mid.queued > 0, `deliveries queued mid-run: ${JSON.stringify(mid)}`);
  assert.equal(mid.unaccounted, 0, `mid-run line: ${JSON.stringify(mid)}`);
  // The backend goes down too: the node keeps accepting and delivering, its log waits.
  const httpPort = backend.port;
  await backend.stop();
  await sendAll(node.port, part(2));
  // The backend comes back on the same port and database; the log ships in order.
  backend = await startServerMain({ ...backendEnv, TIDINGS_HTTP_PORT: String(httpPort) });
  started.push(backend);
  await sendAll(node.port, part(3));
  const deferredWhileDown = nodeDb.prepare("SELECT count(*) FROM events WHERE type = 'deferred'").pluck().get() as number;
  assert.ok(deferredWhileDown > 0, 'forwards were deferred while the provider was down');
  provider = await startSmtpSink({
    port: providerPort,
    refuseRcpt: (a) => (a === 'gone@provider.test' ? [550, '5.1.1 no such user here'] : null),
  });
  const sentAt = Date.now();

  // Settled: the queue is empty, the backend holds every event, and a heartbeat read after the last one is paired.
  const checkpointSeq = () => (backendDb.prepare('SELECT coalesce(max(seq), 0) FROM telemetry_checkpoints').pluck().get() as number) ?? 0;
  await waitFor(
    () => queued() === 0,
    () => `the queue drained (${queued()} still queued)`,
    { timeoutMs: 90_000, intervalMs: 200 },
  );
  const drainedAt = Date.now();
  await waitFor(
    () => checkpointSeq() === lastSeq(),
    () => `a queue reading paired at the node's last seq ${lastSeq()} (backend has ${checkpointSeq()})`,
    { timeoutMs: 30_000, intervalMs: 100 },
  );

  // The mix went out as planned (the replies said so).
  assert.deepEqual(said.rejected, { 'unknown-user': 60, 'too-big': 30, 'bare-newline': 10 });
  assert.equal(said.messages, 400);
  assert.deepEqual(said.deliveries, { maildir: 250, lmtp: 150, forward: 100 });
  assert.equal(said.refused, 10);
  assert.equal(dovecot.delivered('bob@example.com').length, 150, 'Dovecot stored every LMTP delivery');

  // The public API behind the charts.
  const res = await fetch(`${backend.url}/api/v1/sections/email/telemetry?range=24h`);
  assert.equal(res.status, 200);
  const api = SectionTelemetryResponse.parse(await res.json());
  const charts = api.charts;
  assert.ok(charts, 'the email section has charts');
  const total = (k: 'accepted' | 'delivered' | 'deferred' | 'bounced' | 'quarantined' | 'discarded') =>
    charts.intervals.reduce((n, iv) => n + iv[k], 0);
  const rejected = Object.fromEntries(charts.rejectReasons.map((r, j) => [r, charts.intervals.reduce((n, iv) => n + iv.rejected[j], 0)]));
  const deferred = nodeDb.prepare("SELECT count(*) FROM events WHERE type = 'deferred'").pluck().get() as number;
  assert.deepEqual(
    {
      accepted: total('accepted'),
      delivered: total('delivered'),
      bounced: total('bounced'),
      deferred: total('deferred'),
      quarantined: total('quarantined'),
      discarded: total('discarded'),
      rejected,
    },
    {
      accepted: said.messages,
      // every accepted delivery, plus one DSN for each refused forward
      delivered: said.deliveries.maildir + said.deliveries.lmtp + said.deliveries.forward - said.refused + said.refused,
      bounced: said.refused,
      deferred, // as many as the node logged (the replies imply some, not how many)
      quarantined: 0,
      discarded: 0,
      rejected: said.rejected,
    },
    'the charts API: exactly what the SMTP replies imply',
  );
  assert.deepEqual(
    charts.accounting && { ...charts.accounting, from: undefined, to: undefined, measuredFrom: undefined, measuredTo: undefined },
    {
      from: undefined,
      to: undefined,
      measuredFrom: undefined,
      measuredTo: undefined,
      acceptedMessages: said.messages,
      carriedIn: 0,
      accepted: said.deliveries.maildir + said.deliveries.lmtp + said.deliveries.forward,
      dsn: said.refused,
      released: 0,
      delivered: said.deliveries.maildir + said.deliveries.lmtp + said.deliveries.forward,
      bounced: said.refused,
      quarantined: 0,
      discarded: 0,
      queued: 0,
      uncountedMessages: 0,
      unaccounted: 0,
    },
    'the accounting line balances',
  );

  // Per route (the charts sum routes together): the backend's rollups.
  const s = telemetrySummary(backendDb, { from: 0, to: Date.now() + 3_600_000 }, new Date());
  const by = (outcome: string, route: string) =>
    s.outcomes.filter((o) => o.outcome === outcome && o.route === route).reduce((n, o) => n + o.count, 0);
  assert.deepEqual(
    { maildir: by('delivered', 'maildir'), lmtp: by('delivered', 'lmtp'), forward: by('delivered', 'forward') },
    { maildir: said.deliveries.maildir, lmtp: said.deliveries.lmtp, forward: said.deliveries.forward },
  );
  assert.equal(by('dsn', ''), said.refused);

  // From the last kept reading that saw deliveries queued to the end: those are carried in, and everything is placed.
  const busy = backendDb
    .prepare('SELECT at, queue_depth AS depth FROM telemetry_checkpoints WHERE queue_depth > 0 ORDER BY at DESC LIMIT 1')
    .get() as { at: number; depth: number };
  const rest = accounting(backendDb, { from: busy.at, to: Date.now() }, new Date());
  assert.ok(rest);
  assert.equal(rest.measuredFrom, new Date(busy.at).toISOString());
  assert.equal(rest.carriedIn, busy.depth, 'carried in: what that reading measured');
  assert.equal(rest.queued, 0);
  assert.equal(rest.unaccounted, 0, `the rest of the run: ${JSON.stringify(rest)}`);

  const shippedAt = Date.now();
  console.log(
    `# e2e: 500 messages (${said.messages} accepted, ${said.deliveries.maildir + said.deliveries.lmtp + said.deliveries.forward} deliveries, ` +
      `${deferred} deferrals, ${said.refused} bounces + DSNs); sent in ${((sentAt - t0) / 1000).toFixed(1)} s from start, ` +
      `drained ${((drainedAt - sentAt) / 1000).toFixed(1)} s later, shipped and paired ${((shippedAt - drainedAt) / 1000).toFixed(1)} s after that; ` +
      `mid-run line: ${mid.acceptedMessages} messages, ${mid.accepted} deliveries, ${mid.queued} queued, unaccounted ${mid.unaccounted}; ` +
      `from the last busy reading: ${rest.carriedIn} carried in, ${rest.accepted} accepted, unaccounted ${rest.unaccounted}`,
  );
  await node.stop();
  await backend.stop();
});
