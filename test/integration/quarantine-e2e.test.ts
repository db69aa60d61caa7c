// The quarantine across both halves (issue 12): a copy kept back on the MX node is shipped to the real backend's index
// with its entry; staff release one copy and delete another through the API; the node fetches the actions after its
// config sync, applies them, and its events resolve the actions at the backend. Real backend over loopback HTTP, the
// node's own shipper, sync and action client; only the content checks are a stub (quarantine-real.test.ts has the
// real scanners).
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DB } from '#data/db.ts';
import type { MailSystem } from '#mailsystem/app.ts';
import type { Checks } from '#mailsystem/checks/types.ts';
import { sendMessage } from '#mailsystem/delivery/smtp-client.ts';
import type { Facts } from '#mailsystem/policy/decide.ts';
import { createQuarantineActionsClient } from '#mailsystem/quarantine/actions.ts';
import { openNodeDatabase } from '#mailsystem/queue/open.ts';
import type { Shipper } from '#mailsystem/telemetry/shipper.ts';
import { listQuarantine } from '#server/services/mail/listQuarantine.ts';
import { accounting } from '#server/services/telemetry/accounting.ts';
import { fakeDirectory } from '../support/fake-directory.ts';
import { mailboxMessages, startNode } from '../support/mx-harness.ts';
import { shipperTo, type SyncBackend, startSyncBackend, syncFrom } from '../support/sync-backend.ts';
import { waitFor } from '../support/wait.ts';

const MAILBOX = 'anna@example.test';
const HAM: Facts = { spam: { status: 'scored', score: 0.5, action: 'no action' }, virus: { status: 'clean' }, dmarc: { status: 'off' } };
const checks: Checks = async ({ message }) => {
  const text = message.toString('latin1');
  if (text.includes('MARK-VIRUS'))
    return {
      facts: { ...HAM, virus: { status: 'infected', name: 'Eicar-Test-Signature' } },
      message,
      verdict: { virus: { result: 'infected', name: 'Eicar-Test-Signature' } },
    };
  if (text.includes('MARK-SPAM'))
    return {
      facts: { ...HAM, spam: { status: 'scored', score: 15, requiredScore: 15, action: 'reject' } },
      message,
      verdict: { spam: { score: 15, symbols: [{ name: 'GTUBE', score: 15 }] } },
    };
  return { facts: HAM, message, verdict: {} };
};

let backend: SyncBackend;
let dir: string;
let db: DB;
let mx: MailSystem;
let port: number;
let shipper: Shipper;

before(async () => {
  backend = await startSyncBackend();
  dir = mkdtempSync(join(tmpdir(), 'tidings-quarantine-e2e-'));
  db = openNodeDatabase(join(dir, 'node.sqlite'));
  ({ mx, port } = await startNode(
    db,
    dir,
    { worker: { idlePollMs: 20 } },
    {
      directory: fakeDirectory({
        domains: ['example.test'],
        addresses: { [MAILBOX]: [{ kind: 'maildir', mailbox: MAILBOX }] },
        policies: { '*': { spam: 'remove' } },
      }),
      buildDsn: () => Buffer.alloc(0),
      checks,
      fetchQuarantineActions: createQuarantineActionsClient({ backendUrl: backend.url, token: backend.token }),
    },
  ));
  shipper = shipperTo(backend, db);
});

after(async () => {
  await shipper?.stop();
  await mx?.stop();
  db?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function send(subject: string, marker: string): Promise<string> {
  const r = await sendMessage({
    host: '127.0.0.1',
    port,
    heloName: 'client.test',
    from: 'sender@origin.test',
    to: [MAILBOX],
    timeoutMs: 10_000,
    message: Buffer.from(
      `From: sender@origin.test\r\nTo: ${MAILBOX}\r\nSubject: ${subject}\r\nX-Marker: ${marker}\r\n\r\n${marker}\r\n`,
      'latin1',
    ),
  });
  const outcome = r.get(MAILBOX);
  assert.equal(outcome?.kind, 'delivered');
  return /queued as (\S+)/.exec(outcome?.kind === 'delivered' ? outcome.response : '')?.[1] ?? '';
}

const deliveryOf = (messageId: string): number =>
  db.prepare("SELECT id FROM deliveries WHERE message_id = ? AND state = 'quarantined'").pluck().get(messageId) as number;
const indexed = () => listQuarantine(backend.db, {}).items;
const stateOf = (id: number): string => db.prepare('SELECT state FROM deliveries WHERE id = ?').pluck().get(id) as string;

it('kept back on the node, indexed at the backend, released and deleted by staff, resolved by the node’s events', async () => {
  const startedAt = Date.now();
  const spam = deliveryOf(await send('=?utf-8?q?Angebot_f=C3=BCr_Sie?=\x01 MARK-SPAM', 'e2e-spam'));
  const virus = deliveryOf(await send('invoice MARK-VIRUS', 'e2e-virus'));
  assert.ok(spam > 0 && virus > 0);

  // Up: the events ship (a control character in a batch would make the backend refuse it, and shipping would stall).
  assert.equal((await shipper.shipOnce()).kind, 'acked');
  assert.equal(await shipper.heartbeatOnce(), true);
  const held = new Map(indexed().map((i) => [i.deliveryId, i]));
  assert.equal(held.get(spam)?.subject, 'Angebot für Sie MARK-SPAM');
  assert.equal(held.get(spam)?.status, 'held');
  assert.equal(held.get(virus)?.virus, 'Eicar-Test-Signature');

  // Down: staff ask; the node applies the actions right after its next config sync.
  await backend.api('POST', `/api/v1/mail/quarantine/mx-test/${spam}/release`);
  await backend.api('POST', `/api/v1/mail/quarantine/mx-test/${virus}/delete`);
  const sync = syncFrom(backend, db, { afterSync: () => mx.pollQuarantineActions() });
  assert.equal((await sync.syncOnce()).ok, true);
  await waitFor(() => stateOf(spam) === 'delivered', 'the released copy delivered');
  assert.equal(stateOf(virus), 'discarded');
  const inbox = mailboxMessages(join(dir, 'mail'), MAILBOX).map((m) => m.toString('latin1'));
  assert.equal(inbox.length, 1);
  assert.match(inbox[0], /X-Marker: e2e-spam/);

  // Until the events arrive the actions stay pending, so the node gets them again: applying them twice does nothing.
  assert.equal((await sync.syncOnce()).ok, true);
  assert.equal(db.prepare("SELECT count(*) FROM events WHERE type IN ('released', 'purged')").pluck().get(), 2);

  // Up again: the events resolve the actions, and the node is handed nothing more.
  assert.equal((await shipper.shipOnce()).kind, 'acked');
  const after = new Map(indexed().map((i) => [i.deliveryId, i]));
  assert.equal(after.get(spam)?.status, 'released');
  assert.deepEqual([after.get(virus)?.status, after.get(virus)?.purgeReason], ['purged', 'staff']);
  const res = await fetch(`${backend.url}/api/v1/mx/quarantine/actions`, { headers: { authorization: `Bearer ${backend.token}` } });
  assert.deepEqual(await res.json(), { actions: [] });
  sync.stop();

  // The accounting line balances through the quarantine, the release and its delivery, from the node's real events and
  // heartbeat: two accepted, both quarantined, one released back into the queue and delivered, nothing queued.
  assert.equal(await shipper.heartbeatOnce(), true);
  const line = accounting(backend.db, { from: startedAt - 3_600_000, to: Date.now() + 1 }, new Date());
  assert.ok(line, 'an accounting line');
  assert.deepEqual(
    { accepted: line.accepted, quarantined: line.quarantined, released: line.released, delivered: line.delivered, queued: line.queued },
    { accepted: 2, quarantined: 2, released: 1, delivered: 1, queued: 0 },
  );
  assert.equal(line.unaccounted, 0);
});
