// `npm start` restarts its MX node on SIGHUP without refusing mail (server/embedded-mx.ts): the backend keeps the SMTP
// socket, a new MX process listens on it, then the old one drains. Under load, with sessions that reconnect every few
// messages, no connection is refused or reset, and every message answered 250 is in the Maildir exactly once.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { StatusJson } from '#data/contracts/status.ts';
import { killHard, logEntry, pidAlive } from '../support/child.ts';
import { runLoad } from '../support/load.ts';
import { scanMaildirs } from '../support/maildir-scan.ts';
import { mailCli, startServerMain, type ServerMain } from '../support/server-main.ts';
import { RawSmtp } from '../support/smtp-client.ts';
import { waitFor } from '../support/wait.ts';

const RESTARTS = 2;
/** Work each MX process does before the next SIGHUP, and the last one after the last restart. */
const ACKED_PER_PROCESS = 100;

const stateDir = mkdtempSync(join(tmpdir(), 'tidings-aio-restart-'));
let server: ServerMain | undefined;
after(async () => {
  if (server) await killHard(server.child); // its MX children drain and exit when the backend's pipe closes
  rmSync(stateDir, { recursive: true, force: true });
});

const queued = (): number => {
  const db = new Database(join(stateDir, 'mx', 'node.sqlite'), { readonly: true });
  try {
    return db.prepare("SELECT count(*) FROM deliveries WHERE state = 'queued'").pluck().get() as number;
  } finally {
    db.close();
  }
};

test('SIGHUP under load: a new MX process takes over, the old one drains; nothing refused, reset, lost or duplicated', {
  timeout: 300_000,
}, async () => {
  await mailCli(stateDir, 'domain', 'add', 'aio.test');
  await mailCli(stateDir, 'mailbox', 'add', 'dora@aio.test');
  server = await startServerMain({
    TIDINGS_STATE_DIR: stateDir,
    TIDINGS_MX_SYNC_INTERVAL: '1s',
    TIDINGS_SMTP_MAX_CONNECTIONS_PER_IP: '200',
  });
  const running = server;
  const first = await running.mx();
  // The node knows dora@aio.test once its first config sync is in.
  await waitFor(
    async () => {
      const probe = await RawSmtp.connect(first.port);
      try {
        return (await probe.open('probe@origin.test', ['dora@aio.test']))[0].startsWith('250 ');
      } finally {
        probe.close();
      }
    },
    'dora@aio.test accepted at RCPT',
    { timeoutMs: 30_000, intervalMs: 200 },
  );

  let acked = 0;
  let loadDone = false;
  const load = runLoad({
    port: first.port,
    sessions: 10,
    perSession: 100_000, // an upper bound: the test ends the load
    perConnection: 3, // new connections all the time, also while the processes change
    recipientFor: () => 'dora@aio.test',
    shouldStop: () => loadDone,
    onAcked: () => {
      acked++;
    },
  });
  const pids = [first.pid];
  const restarts = (async () => {
    try {
      for (let i = 0; i < RESTARTS; i++) {
        const mark = acked;
        await waitFor(
          () => acked >= mark + ACKED_PER_PROCESS,
          () => `${ACKED_PER_PROCESS} more messages accepted (${acked - mark})`,
          60_000,
        );
        running.child.kill('SIGHUP');
        const done = await running.lines.next((line) => {
          const e = logEntry(line);
          return e?.msg === 'mailsystem: restarted' ? { pid: e.pid as number, previousPid: e.previousPid as number } : undefined;
        }, 'the "mailsystem: restarted" line');
        assert.equal(done.previousPid, pids.at(-1), 'the serving process was the one replaced');
        assert.ok(!pidAlive(done.previousPid), 'the old MX process has exited');
        pids.push(done.pid);
      }
      const mark = acked;
      await waitFor(() => acked >= mark + ACKED_PER_PROCESS, 'messages accepted by the last MX process', 60_000);
    } finally {
      loadDone = true; // also when a step failed: the load must end for the error to surface
    }
  })();
  const [result] = await Promise.all([load, restarts]);

  assert.equal(new Set(pids).size, RESTARTS + 1, `a new MX process each time: ${pids.join(', ')}`);
  assert.deepEqual(result.connectFailures, [], 'no connection refused, reset or turned away');
  assert.equal(result.silentDrops, 0, 'no session was cut off without an answer');
  assert.equal(result.uncertain.size, 0, 'no message went unanswered');
  assert.deepEqual(result.unexpected, [], 'only 250, 354 and 421 answers');
  for (const text of result.texts421) assert.match(text, /^4\.3\.2 /, 'the drain ends idle sessions with 421 4.3.2');
  assert.equal(result.acked.size, result.started, 'every message a session began was accepted in the end');

  await waitFor(
    () => queued() === 0,
    () => `the queue delivered (${queued()} queued)`,
    60_000,
  );
  const found = scanMaildirs(join(stateDir, 'mx', 'mail'));
  for (const [id, rcpt] of result.acked) assert.deepEqual(found.get(id), [rcpt], `${id} lost or duplicated`);
  assert.equal(found.size, result.acked.size, 'nothing in the Maildir that was not answered 250');
  // The processes shipped one event log, overlapping during each restart: the backend counts every event once.
  let telemetry: StatusJson['sections'][number]['telemetry'];
  await waitFor(
    async () => {
      const status = StatusJson.parse(await (await fetch(`${running.url}/status.json`)).json());
      telemetry = status.sections.find((s) => s.slug === 'email')?.telemetry;
      return telemetry?.delivered === result.acked.size;
    },
    () => `the backend's counts reach ${result.acked.size} deliveries (${JSON.stringify(telemetry)})`,
    { timeoutMs: 90_000, intervalMs: 500 },
  );
  assert.equal(telemetry!.accepted, result.acked.size, 'each accepted message counted once');
  await running.stop();
  console.log(`npm start MX restarts: ${RESTARTS} × SIGHUP, ${result.acked.size} messages once each over ${pids.length} processes`);
});
