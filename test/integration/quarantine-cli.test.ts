// `npm run cli -- mail quarantine ...`: list with search and filters, release and delete requests with the same
// refusals as the API (unknown copy, a virus, a copy with a request waiting), audited as the CLI.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createChangeCounter } from '#server/deps.ts';
import { hashNodeToken, issueNodeToken } from '#server/services/mail/issueNodeToken.ts';
import { ingestBatch } from '#server/services/telemetry/ingestBatch.ts';
import { findNodeByTokenHash, type MxNode } from '#server/store/mail.ts';
import { mailCliInProcess } from '../support/cli-in-process.ts';

test('mail quarantine list, release, delete; refusals; audited as the CLI', async () => {
  const { db, clock, run } = mailCliInProcess();
  const ctx = { db, clock, changes: createChangeCounter() };
  const node = findNodeByTokenHash(db, hashNodeToken(issueNodeToken({ ctx, actor: { userId: null, name: 'cli' }, name: 'mx1' }))) as MxNode;
  const at = clock().getTime();
  const base = { recipient: 'anna@example.com', route: 'forward', target: 'bob@provider.test', sender: 'x@remote.test', size: 10 } as const;
  ingestBatch({
    db,
    clock,
    node,
    batch: {
      after: 0,
      events: [
        {
          seq: 1,
          at,
          type: 'quarantined',
          messageId: 'a',
          reason: 'spam',
          entry: { ...base, deliveryId: 1, subject: 'Cheap watches', score: 12, symbols: ['GTUBE'], virus: null },
        },
        {
          seq: 2,
          at: at + 1,
          type: 'quarantined',
          messageId: 'b',
          reason: 'virus',
          entry: { ...base, deliveryId: 2, subject: null, score: null, symbols: [], virus: 'Eicar-Signature' },
        },
      ],
    },
  });

  let r = await run('quarantine', 'list');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^QUARANTINED\s+NODE\s+DELIVERY\s+REASON\s+STATUS\s+PENDING/);
  assert.match(
    r.stdout,
    /mx1\s+2\s+virus\s+held\s+-\s+anna@example\.com\s+forward bob@provider\.test \(external\)\s+x@remote\.test\s+-\s+Eicar-Signature\s+\(no subject\)\n/,
  );
  r = await run('quarantine', 'list', '--search', 'watches', '--status', 'held');
  assert.equal(r.stdout.trim().split('\n').length, 2, r.stdout);
  assert.match(r.stdout, /12\.00\s+GTUBE\s+Cheap watches/);
  r = await run('quarantine', 'list', '--reason', 'malware');
  assert.notEqual(r.code, 0);
  // --limit is 1 to 200: anything else is refused with the usage.
  for (const limit of ['0', '201', '999', '-1', 'x']) {
    r = await run('quarantine', 'list', `--limit=${limit}`);
    assert.notEqual(r.code, 0, `--limit ${limit}`);
    assert.match(r.stderr, /--limit: a number of copies, 1 to 200[\s\S]*mail quarantine list/, `--limit ${limit}`);
  }
  for (const limit of ['1', '200']) assert.equal((await run('quarantine', 'list', '--limit', limit)).code, 0, `--limit ${limit}`);
  r = await run('quarantine', 'release', 'mx1', '0');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /name the node and the delivery id/);

  r = await run('quarantine', 'release', 'mx1', '2');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /virus is never delivered/);
  r = await run('quarantine', 'release', 'mx1', '1');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Release of copy 1 on mx1 requested \(action \d+\); the node applies it on its next sync\.\n$/);
  r = await run('quarantine', 'delete', 'mx1', '1');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /already waiting/);
  r = await run('quarantine', 'delete', 'mx1', '9');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /no quarantined copy 9/);
  r = await run('quarantine', 'delete', 'mx1');
  assert.notEqual(r.code, 0);
  r = await run('quarantine', 'delete', 'mx1', '2');
  assert.equal(r.code, 0, r.stderr);
  r = await run('quarantine', 'list', '--status', 'held');
  assert.match(r.stdout, /held\s+release\s/);
  assert.match(r.stdout, /held\s+delete\s/);

  assert.deepEqual(db.prepare("SELECT action, actor, target FROM audit_log WHERE action LIKE 'mail.quarantine.%' ORDER BY id").all(), [
    { action: 'mail.quarantine.release', actor: 'cli', target: 'mx1/1' },
    { action: 'mail.quarantine.delete', actor: 'cli', target: 'mx1/2' },
  ]);
});
