// The backend's job schedule runs the confirmation loop (issue 14): a queued double opt-in mail reaches the relay
// without anyone calling the sender, and a request left unconfirmed for 48 hours is deleted by the same loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { makeHarness } from './api-harness.ts';
import { startSmtpSink } from '../support/smtp-sink.ts';
import { postForm } from '../support/subscriptions.ts';
import { waitFor } from '../support/wait.ts';
import { startJobs } from '#server/jobs/schedule.ts';

test('startJobs with confirmations sends the queued mail through the relay and expires unconfirmed requests', async () => {
  const h = makeHarness();
  const sink = await startSmtpSink({ starttls: false });
  await postForm(h.request, '/subscribe', { email: 'job@example.net', scope: 'all', website: '' });
  const jobs = startJobs(
    { db: h.db, clock: h.now, log: pino({ level: 'silent' }), changes: h.changes, publicUrl: h.config.publicUrl },
    { confirmations: { smtpUrl: `smtp://127.0.0.1:${sink.port}`, from: 'status@example.test', publicUrl: h.config.publicUrl, pollMs: 50 } },
  );
  try {
    const [m] = await sink.waitFor(1);
    assert.deepEqual(m.to, ['job@example.net']);
    h.advance(48 * 3_600_000 + 1000);
    await waitFor(
      () => (h.db.prepare('SELECT count(*) AS n FROM subscribers').get() as { n: number }).n === 0,
      'the expired request deleted',
    );
    assert.equal(sink.messages.length, 1);
  } finally {
    await jobs.stop();
    await sink.close();
  }
});
