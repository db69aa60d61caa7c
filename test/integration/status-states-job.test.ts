// The status-states job brings the public snapshot up to date every minute, so a section's state change (here the
// telemetry section going unknown) is evaluated and stored while nobody views the site.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import cron from 'node-cron';
import pino from 'pino';
import { loadConfig } from '#data/config.ts';
import { createAppWithFastPath } from '#server/app.ts';
import { createChangeCounter } from '#server/deps.ts';
import { JOB_NAMES, startJobs } from '#server/jobs/schedule.ts';
import { issueNodeToken } from '#server/services/mail/issueNodeToken.ts';
import { stateChanges } from '#server/store/state-changes.ts';
import { openBackendStore } from '#server/store/open.ts';
import { waitFor } from '../support/wait.ts';

const T = Date.parse('2026-01-15T12:00:30.000Z');
const log = pino({ level: 'silent' });

test('with no page view, the job stores the state changes: the initial state at start, unknown once the nodes go quiet', async () => {
  let now = T;
  const clock = () => new Date(now);
  const db = openBackendStore(':memory:', clock);
  const changes = createChangeCounter();
  const config = loadConfig({ TIDINGS_PUBLIC_URL: 'http://status.example.test', TIDINGS_STATE_DIR: '/nonexistent' }, '/');
  const { app, refreshStatus } = createAppWithFastPath({ db, config, clock, log, changes });
  const token = issueNodeToken({ ctx: { db, clock, changes }, actor: { userId: null, name: 'test' }, name: 'mx1' });
  const r = await app.fetch(
    new Request('http://status.example.test/api/v1/telemetry/heartbeat', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ at: now, queueDepth: 0, oldestQueuedMs: null, inRetry: 0, configVersion: 1, lastSyncAt: null, lastSeq: 0 }),
    }),
  );
  assert.equal(r.status, 200);
  const named = () => [...cron.getTasks().values()].filter((task) => task.name === JOB_NAMES.statusStates);
  const before = named().length;
  // Every second here, so the test does not wait a minute.
  const jobs = startJobs(
    { db, clock, log, changes, publicUrl: 'http://localhost' },
    { statusRefresh: refreshStatus, statusEvery: '* * * * * *' },
  );
  try {
    assert.equal(named().length, before + 1);
    jobs.runNow();
    assert.deepEqual(
      stateChanges(db, 'email').map((c) => [c.state, c.at]),
      [['operational', new Date(T).toISOString()]],
    );
    now = T + 5 * 60_000;
    await waitFor(() => stateChanges(db, 'email').length === 2, 'the job storing unknown');
    const last = stateChanges(db, 'email')[1];
    assert.deepEqual([last.state, last.source, last.at], ['unknown', 'telemetry', new Date(T + 5 * 60_000).toISOString()]);
  } finally {
    await jobs.stop();
  }
  assert.equal(named().length, before, 'stop() destroys it');
  db.close();
});

test('the status-states job runs every minute by default, and only when given a refresh', async () => {
  const db = openBackendStore(':memory:');
  const named = () => [...cron.getTasks().values()].filter((task) => task.name === JOB_NAMES.statusStates);
  const before = named().length;
  const deps = { db, clock: () => new Date(T), log, changes: createChangeCounter(), publicUrl: 'http://localhost' };
  const without = startJobs(deps);
  assert.equal(named().length, before);
  await without.stop();
  let runs = 0;
  const jobs = startJobs(deps, { statusRefresh: () => void runs++ });
  try {
    assert.equal(named().at(-1)?.getPattern(), '* * * * *');
    jobs.runNow();
    assert.equal(runs, 1);
  } finally {
    await jobs.stop();
  }
  db.close();
});
