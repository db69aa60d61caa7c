// Rolling restart of a standalone MX node (mailsystem/main.ts) under a 20-session load: a second process binds the
// same port (SO_REUSEPORT) on the same state folder, then the first gets SIGTERM and drains. No connection is refused
// or reset, every message answered 250 is in the Maildir exactly once, and both processes exit 0.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { killHard } from '../support/child.ts';
import { runLoad } from '../support/load.ts';
import { scanMaildirs } from '../support/maildir-scan.ts';
import { ANNA_MAILDIR_REPLICA, spawnMxMain, startMainNode, type MainNode } from '../support/mx-main.ts';
import { RawSmtp } from '../support/smtp-client.ts';
import { waitFor } from '../support/wait.ts';

const SESSIONS = 20;
/** Work each process does while it serves alone: before the successor starts, and after the old one is gone. */
const ACKED_PER_PHASE = 150;
/** The sessions' connections from one address exceed the default per-IP cap (20) while old and new sessions overlap. */
const ENV = { TIDINGS_SMTP_MAX_CONNECTIONS_PER_IP: '200' };

const nodes: MainNode[] = [];
let stateDir = '';
after(async () => {
  for (const n of nodes) await killHard(n.child);
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

/** Deliveries of the node database in a state, read by a connection of the test's own. */
function countDeliveries(dir: string, state: string): number {
  const db = new Database(join(dir, 'mx', 'node.sqlite'), { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM deliveries WHERE state = ?').pluck().get(state) as number;
  } finally {
    db.close();
  }
}

test('a second process takes the port, the first drains: nothing refused, reset, lost or duplicated', { timeout: 240_000 }, async () => {
  const old = await startMainNode(ANNA_MAILDIR_REPLICA, ENV);
  nodes.push(old);
  stateDir = old.dir;
  let acked = 0;
  let loadDone = false;
  const load = runLoad({
    port: old.port,
    sessions: SESSIONS,
    perSession: 100_000, // an upper bound: the test ends the load
    recipientFor: () => 'anna@example.com',
    shouldStop: () => loadDone,
    onAcked: () => {
      acked++;
    },
  });
  let draining = false;
  old.child.stdout!.on('data', (chunk: Buffer) => {
    if (chunk.toString().includes('shutting down: draining')) draining = true;
  });
  const phases = (async () => {
    try {
      await waitFor(
        () => acked >= ACKED_PER_PHASE,
        () => `${ACKED_PER_PHASE} messages accepted by the first process (${acked})`,
        60_000,
      );
      // A transfer under way on the first process when the successor takes over.
      const long = await RawSmtp.connect(old.port);
      assert.match((await long.open('slow@origin.test', ['anna@example.com']))[0], /^250 /);
      assert.match((await long.cmd('DATA'))!, /^354 /);
      long.write('From: <slow@origin.test>\r\nX-Test-Id: long-1\r\nSubject: in flight\r\n\r\nfirst half, ');
      const successor = await spawnMxMain({
        ...ENV,
        TIDINGS_STATE_DIR: old.dir,
        TIDINGS_SMTP_PORT: String(old.port),
        TIDINGS_MX_BACKEND_URL: undefined,
        TIDINGS_MX_TOKEN: undefined,
      });
      nodes.push(successor);
      assert.equal(successor.port, old.port, 'the successor listens on the same port');
      // The successor accepts on the port already; only now does the first process stop accepting and drain.
      old.child.kill('SIGTERM');
      await waitFor(() => draining, 'the first process to begin its drain');
      long.write('second half\r\n.\r\n');
      assert.match((await long.read(10_000))!, /^250 /, 'the transfer in flight finishes on the draining process');
      assert.equal(old.child.exitCode, null, 'the first process stayed until then');
      long.close();
      const exit = await old.exited;
      assert.equal(exit.code, 0, `the first process exits 0 after its drain\n${old.stderr()}`);
      const atExit = acked;
      await waitFor(
        () => acked >= atExit + ACKED_PER_PHASE,
        () => `${ACKED_PER_PHASE} messages accepted by the successor alone`,
        60_000,
      );
      return successor;
    } finally {
      loadDone = true; // also when a step failed: the load must end for the error to surface
    }
  })();
  const [result, successor] = await Promise.all([load, phases]);

  assert.deepEqual(result.connectFailures, [], 'no connection refused, reset or turned away');
  assert.equal(result.silentDrops, 0, 'no session was cut off without an answer');
  assert.equal(result.uncertain.size, 0, 'no message went unanswered');
  assert.deepEqual(result.unexpected, [], 'only 250, 354 and 421 answers');
  for (const text of result.texts421) assert.match(text, /^4\.3\.2 /, 'the drain ends idle sessions with 421 4.3.2');
  assert.ok((result.codes.get(421) ?? 0) > 0, 'the old process ended sessions (they moved to the successor)');
  assert.equal(result.acked.size, result.started, 'every message a session began was accepted in the end');

  await waitFor(
    () => countDeliveries(stateDir, 'queued') === 0,
    () => `the queue delivered (${countDeliveries(stateDir, 'queued')} queued)`,
    60_000,
  );
  assert.equal(countDeliveries(stateDir, 'delivered'), result.acked.size + 1, 'one delivery recorded per accepted message');
  const found = scanMaildirs(join(stateDir, 'mx', 'mail'));
  for (const [id, rcpt] of [...result.acked, ['long-1', 'anna@example.com']])
    assert.deepEqual(found.get(id), [rcpt], `${id} lost or duplicated`);
  assert.equal(found.size, result.acked.size + 1, 'nothing in the Maildir that was not answered 250');
  await successor.stop();
  console.log(`rolling restart: ${result.acked.size} messages once each, ${result.codes.get(421) ?? 0} × 421 from the drain`);
});
