// The MX node's /metrics (TIDINGS_MX_METRICS_PORT) with mailsystem/main.ts as a real process: after real SMTP
// sessions its counters equal what the replies implied, the latency histogram counts every delivery, the gauges are
// there, the listener is on loopback and closes with the node on SIGTERM (exit 0); without the setting there is no
// listener at all. Every scrape goes through the strict text-format parser in test/support/prom-text.ts.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { after, test } from 'node:test';
import { mailOne } from '../support/mail-one.ts';
import { killHard } from '../support/child.ts';
import { ANNA_MAILDIR_REPLICA, startMainNode, type MainNode } from '../support/mx-main.ts';
import { parseExposition, sampleSum, sampleValue, type Family } from '../support/prom-text.ts';
import { waitFor } from '../support/wait.ts';

const nodes: (MainNode & { dir: string })[] = [];
after(async () => {
  for (const n of nodes) {
    await killHard(n.child);
    rmSync(n.dir, { recursive: true, force: true });
  }
});

async function startNode(env: Record<string, string>): Promise<MainNode & { dir: string }> {
  const node = await startMainNode(ANNA_MAILDIR_REPLICA, env);
  nodes.push(node);
  return node;
}

/** TCP ports the process listens on, with their local address, from /proc (its socket inodes in LISTEN state). */
function listening(pid: number): { address: string; port: number }[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // an fd closed while we read
    }
  }
  const out: { address: string; port: number }[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A' || !inodes.has(f[9])) continue;
      const [addr, port] = f[1].split(':');
      out.push({ address: addr, port: Number.parseInt(port, 16) });
    }
  }
  return out;
}

async function scrape(port: number): Promise<Map<string, Family>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

async function mail(port: number, to: string): Promise<string> {
  const reply = await mailOne(port, to, 'metrics');
  if (reply.kind === 'delivered') return 'accepted';
  if (/^550 5\.1\.1/.test(reply.response)) return 'unknown-user';
  return reply.response;
}

test('counters equal what the SMTP replies implied; latency counts deliveries; gauges; SIGTERM exits 0', { timeout: 120_000 }, async () => {
  const node = await startNode({ TIDINGS_MX_METRICS_PORT: '0' });
  assert.ok(node.metricsPort, 'the node logged its metrics port');
  const port = node.metricsPort;
  // Loopback by default: the metrics socket is bound to 127.0.0.1 (0100007F in /proc), next to the SMTP socket.
  const sockets = listening(node.child.pid!);
  assert.deepEqual(sockets.find((s) => s.port === port)?.address, '0100007F');

  const before = await scrape(port);
  assert.equal(sampleValue(before, 'tidings_mx_messages_accepted_total'), 0);
  assert.equal(sampleValue(before, 'tidings_mx_config_version'), 2);

  const replies = { accepted: 0, unknownUser: 0 };
  for (const to of ['anna@example.com', 'nobody@example.com', 'anna@example.com', 'ghost@example.com', 'anna@example.com']) {
    const r = await mail(node.port, to);
    if (r === 'accepted') replies.accepted++;
    else if (r === 'unknown-user') replies.unknownUser++;
    else assert.fail(`unexpected reply ${r}`);
  }
  assert.deepEqual(replies, { accepted: 3, unknownUser: 2 });

  let last = before;
  await waitFor(
    async () => {
      last = await scrape(port);
      return sampleValue(last, 'tidings_mx_queue_depth') === 0 && sampleSum(last, 'tidings_mx_deliveries_total') >= replies.accepted;
    },
    'every accepted message delivered',
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  assert.equal(sampleValue(last, 'tidings_mx_messages_accepted_total'), replies.accepted);
  assert.equal(sampleValue(last, 'tidings_mx_rejections_total', { reason: 'unknown-user' }), replies.unknownUser);
  assert.equal(sampleSum(last, 'tidings_mx_rejections_total'), replies.unknownUser, 'no other refusal');
  assert.equal(sampleValue(last, 'tidings_mx_deliveries_total', { route: 'maildir', outcome: 'delivered' }), replies.accepted);
  assert.equal(sampleSum(last, 'tidings_mx_deliveries_total'), replies.accepted, 'nothing deferred or bounced');
  assert.equal(sampleValue(last, 'tidings_mx_delivery_latency_seconds_count', { route: 'maildir' }), replies.accepted);
  assert.equal(sampleValue(last, 'tidings_mx_delivery_latency_seconds_bucket', { route: 'maildir', le: '+Inf' }), replies.accepted);
  const sum = sampleValue(last, 'tidings_mx_delivery_latency_seconds_sum', { route: 'maildir' }) ?? -1;
  assert.ok(sum >= 0 && sum < 30, `latency sum ${sum} s`);
  for (const gauge of [
    'tidings_mx_queue_depth',
    'tidings_mx_oldest_queued_age_seconds',
    'tidings_mx_deliveries_in_retry',
    'tidings_mx_config_version',
    'tidings_mx_telemetry_shipping_lag_events',
  ])
    assert.equal(last.get(gauge)?.type, 'gauge', gauge);
  assert.equal(sampleValue(last, 'tidings_mx_oldest_queued_age_seconds'), 0);
  // No backend: nothing was acknowledged, so every event written (3 accepted, 2 rejected, 3 delivered) lags.
  assert.equal(sampleValue(last, 'tidings_mx_telemetry_shipping_lag_events'), 8);
  assert.ok(last.get('process_cpu_seconds_total'), 'default process metrics are on the registry');

  const other = await fetch(`http://127.0.0.1:${port}/other`);
  assert.equal(other.status, 404);
  await other.text();

  // A keep-alive connection stays open across SIGTERM: the listener must not wait for it.
  const agentRes = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { connection: 'keep-alive' } });
  await agentRes.text();
  const stopping = Date.now();
  await node.stop(); // SIGTERM; asserts exit 0 within the drain
  assert.ok(Date.now() - stopping < 5_000, `exit took ${Date.now() - stopping} ms`);
  await assert.rejects(fetch(`http://127.0.0.1:${port}/metrics`), 'nothing listens after the exit');
});

test('off by default: without TIDINGS_MX_METRICS_PORT the node listens on its SMTP port only', { timeout: 60_000 }, async () => {
  const node = await startNode({});
  assert.equal(node.metricsPort, null);
  assert.deepEqual(
    listening(node.child.pid!).map((s) => s.port),
    [node.port],
  );
  await node.stop();
});
