// The Email light follows the mail system, with real processes (issue 10, "Done when"): the backend (server/main.ts,
// role backend) and one MX node (mailsystem/main.ts) with shortened thresholds. A paused LMTP target lets a delivery's
// backlog age past TIDINGS_TELEMETRY_OLDEST_QUEUED_THRESHOLD: active issues; releasing it drains the backlog and the
// light returns to normal; stopping the node turns it unknown once TIDINGS_TELEMETRY_STALE_AFTER has passed since its
// last heartbeat. Each change is stored and appears in the section's feed.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { STATE_LEGEND } from '#data/contracts/states.ts';
import { StatusJson } from '#data/contracts/status.ts';
import { openDatabase, type DB } from '#data/db.ts';
import { TELEMETRY_REFRESH_MS } from '#server/services/telemetry/section-telemetry.ts';
import { stateChanges } from '#server/store/state-changes.ts';
import { killHard } from '../support/child.ts';
import { spawnShippingNode, type MainNode } from '../support/mx-main.ts';
import { mailCli, startServerMain, type ServerMain } from '../support/server-main.ts';
import { RawSmtp } from '../support/smtp-client.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';
import { waitFor } from '../support/wait.ts';

const started: (MainNode | ServerMain)[] = [];
const dirs: string[] = [];
const dbs: DB[] = [];
let lmtp: SmtpSink | undefined;
let release: () => void = () => {};
after(async () => {
  release();
  for (const db of dbs) db.close();
  for (const p of started) await killHard(p.child);
  await lmtp?.close().catch(() => {});
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const STALE_MS = 6_000;
const OLDEST_MS = 3_000;
/** How late past a threshold the test may see a change: its 200 ms polling, the request, a busy 2-CPU machine. */
const SLACK_MS = 4_000;
/**
 * A change that needs new telemetry (a heartbeat reporting the backlog, or its drain) shows with the snapshot's next
 * refresh: accepted telemetry refreshes it at most every TELEMETRY_REFRESH_MS (15 s). Silence needs no new data: the
 * stale instant is a snapshot boundary, so unknown shows at once.
 */
const REFRESH_MS = TELEMETRY_REFRESH_MS;

interface Change {
  state: string;
  source: string;
  at: number;
  reason: string;
}

test('a held backlog turns Email to active issues and back; a stopped node turns it unknown; each change is in the feed', {
  timeout: 120_000,
}, async () => {
  // The mailbox server holds each message until released (a paused delivery target).
  let gate: Promise<void> = Promise.resolve();
  lmtp = await startSmtpSink({ lmtp: true, hold: () => gate });
  const backendDir = mkdtempSync(join(tmpdir(), 'tidings-light-backend-'));
  const nodeDir = mkdtempSync(join(tmpdir(), 'tidings-light-node-'));
  dirs.push(backendDir, nodeDir);
  await mailCli(backendDir, 'domain', 'add', 'example.com');
  await mailCli(backendDir, 'mailbox', 'add', 'bob@example.com', '--lmtp', `127.0.0.1:${lmtp.port}`);
  const token = (await mailCli(backendDir, 'node-token', 'mx-light')).trim();
  const backend = await startServerMain({
    TIDINGS_STATE_DIR: backendDir,
    TIDINGS_ROLE: 'backend',
    TIDINGS_TELEMETRY_STALE_AFTER: `${STALE_MS / 1000}s`,
    TIDINGS_TELEMETRY_OLDEST_QUEUED_THRESHOLD: `${OLDEST_MS / 1000}s`,
  });
  started.push(backend);
  const node = await spawnShippingNode(nodeDir, backend.url, token);
  started.push(node);
  const backendDb = openDatabase(join(backendDir, 'backend.sqlite'));
  const nodeDb = openDatabase(join(nodeDir, 'mx', 'node.sqlite'));
  dbs.push(backendDb, nodeDb);

  const email = async () => {
    const r = await fetch(`${backend.url}/status.json`);
    assert.equal(r.status, 200);
    const s = StatusJson.parse(await r.json()).sections.find((x) => x.slug === 'email');
    assert.ok(s);
    return s;
  };
  const changes = (): Change[] => stateChanges(backendDb, 'email').map((c) => ({ ...c, at: Date.parse(c.at) }));
  const lastHeartbeat = () => (backendDb.prepare('SELECT max(received_at) FROM telemetry_heartbeats').pluck().get() as number | null) ?? 0;
  let seen = '';
  const stateIs = (want: string) => async () => {
    const s = await email();
    seen = `${s.state}: ${s.reason}`;
    return s.state === want;
  };

  await waitFor(() => lastHeartbeat() > 0, 'the first heartbeat', { timeoutMs: 30_000, intervalMs: 100 });
  await waitFor(() => (nodeDb.prepare('SELECT count(*) FROM replica_mailboxes').pluck().get() as number) === 1, 'the first sync', {
    timeoutMs: 30_000,
    intervalMs: 100,
  });
  assert.equal((await email()).state, 'operational');

  // Pause the target; one message goes in and waits in the queue.
  gate = new Promise<void>((r) => {
    release = r;
  });
  const c = await RawSmtp.connect(node.port);
  assert.match((await c.open('sender@origin.test', ['bob@example.com']))[0], /^250/);
  assert.match((await c.cmd('DATA')) ?? '', /^354/);
  c.write('From: sender@origin.test\r\nTo: bob@example.com\r\nSubject: held\r\n\r\nwaiting\r\n.\r\n');
  assert.match((await c.read()) ?? '', /^250/);
  const acceptedAt = Date.now();
  await c.cmd('QUIT');
  c.close();

  // Active issues once the backlog is older than the threshold (and not before: the stored change says when).
  await waitFor(stateIs('issues'), () => `Email turns to active issues (now ${seen})`, {
    timeoutMs: OLDEST_MS + REFRESH_MS + 10_000,
    intervalMs: 200,
  });
  const issuesSeenAt = Date.now();
  assert.ok(issuesSeenAt - acceptedAt >= OLDEST_MS, `issues ${issuesSeenAt - acceptedAt} ms after the message was accepted`);
  // Within the threshold, the snapshot refresh and what observing costs (a 200 ms poll, a request, a loaded machine).
  assert.ok(
    issuesSeenAt - acceptedAt <= OLDEST_MS + REFRESH_MS + SLACK_MS,
    `issues only ${issuesSeenAt - acceptedAt} ms after the message was accepted`,
  );
  assert.equal((await email()).reason, 'the oldest queued delivery on mx-light is older than 0.05 min');
  const issues = changes().at(-1);
  assert.equal(issues?.state, 'issues');
  assert.equal(issues?.source, 'telemetry');
  const created = nodeDb.prepare('SELECT min(created_at) FROM deliveries').pluck().get() as number;
  assert.ok(issues && issues.at > created + OLDEST_MS && issues.at <= issuesSeenAt, 'stored once the backlog was older than the threshold');

  // The target resumes: the backlog drains and the light returns to what the tasks say.
  release();
  await lmtp.waitFor(1, 15_000);
  await waitFor(stateIs('operational'), () => `Email back to operational (now ${seen})`, {
    timeoutMs: REFRESH_MS + 10_000,
    intervalMs: 200,
  });
  const back = changes().at(-1);
  assert.equal(back?.state, 'operational');
  assert.equal(back?.source, 'tasks');

  // The node stops: unknown once STALE_MS have passed since its last heartbeat.
  await node.stop();
  const last = lastHeartbeat();
  const stoppedAt = Date.now();
  await waitFor(stateIs('unknown'), () => `Email turns unknown (now ${seen})`, { timeoutMs: STALE_MS + 15_000, intervalMs: 200 });
  const unknownSeenAt = Date.now();
  const stale = await email();
  assert.equal(stale.reason, `${STATE_LEGEND.unknown}: no heartbeat from any mail node for ${STALE_MS / 60_000} min`);
  const unknown = changes().at(-1);
  assert.equal(unknown?.state, 'unknown');
  assert.equal(unknown?.source, 'telemetry');
  // Stored by the first evaluation at or after the stale instant (a view here; the every-minute job otherwise).
  assert.ok(unknown && unknown.at >= last + STALE_MS && unknown.at <= unknownSeenAt, 'stored once the last heartbeat was stale');
  assert.ok(unknownSeenAt - last >= STALE_MS);
  assert.ok(unknownSeenAt - last <= STALE_MS + SLACK_MS, `unknown only ${unknownSeenAt - last} ms after the last heartbeat`);

  // The section's feed carries the three changes, newest first.
  const r = await fetch(`${backend.url}/section/email/feed.atom`);
  assert.equal(r.status, 200);
  const xml = await r.text();
  assert.equal(XMLValidator.validate(xml), true);
  const doc = new XMLParser({ ignoreAttributes: false }).parse(xml);
  const text = (x: unknown) => String(typeof x === 'object' && x !== null ? (x as Record<string, unknown>)['#text'] : (x ?? ''));
  const entries = [doc.feed.entry ?? []]
    .flat()
    .map((e: Record<string, unknown>) => [text(e.title), text(e.content)])
    .filter(([title]) => title.startsWith('Email: '));
  assert.deepEqual(
    entries.map(([title]) => title),
    [`Email: ${STATE_LEGEND.unknown}`, `Email: ${STATE_LEGEND.operational}`, `Email: ${STATE_LEGEND.issues}`],
  );
  assert.ok(entries[0][1].includes(`no heartbeat from any mail node for ${STALE_MS / 60_000} min`), entries[0][1]);
  assert.match(entries[2][1], /the oldest queued delivery on mx-light is older than 0\.05 min/);

  // The section page's state-change list shows the same changes, newest first, each at its stored instant.
  const page = await fetch(`${backend.url}/section/email`);
  assert.equal(page.status, 200);
  const html = await page.text();
  const listed = [...html.matchAll(/<li[^>]*\bdata-change="(\w+)"[^>]*\bdata-source="(\w+)"[^>]*>\s*<time datetime="([^"]+)"/g)].map(
    (m) => [m[1], m[2], m[3]],
  );
  const stored = changes()
    .reverse()
    .map((c) => [c.state, c.source, new Date(c.at).toISOString()]);
  assert.deepEqual(listed, stored, 'the page lists what is stored');
  assert.deepEqual(
    listed.slice(0, 3).map(([state, source]) => [state, source]),
    [
      ['unknown', 'telemetry'],
      ['operational', 'tasks'],
      ['issues', 'telemetry'],
    ],
  );

  console.log(
    `# light: issues seen ${issuesSeenAt - acceptedAt} ms after the held message was accepted (threshold ${OLDEST_MS} ms); ` +
      `unknown seen ${unknownSeenAt - last} ms after the last heartbeat (threshold ${STALE_MS} ms; node stopped ${stoppedAt - last} ms after it)`,
  );
  await backend.stop();
});
