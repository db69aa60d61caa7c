// Which claimed copies share a session (mailsystem/delivery/sessions.ts) against a real SQLite queue: one message, one
// LMTP server or legacy host, the same bytes; bounded; only due, unleased copies join.
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS, openDatabase, type DB } from '#data/db.ts';
import { claimSessions } from '#mailsystem/delivery/sessions.ts';
import type { Transport, Transports } from '#mailsystem/delivery/transport.ts';
import { type ClaimedDelivery, type QueuedDelivery, QueueStore } from '#mailsystem/queue/store.ts';

const tmp = mkdtempSync(join(tmpdir(), 'tidings-sessions-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
function fresh(): { db: DB; store: QueueStore } {
  const db = openDatabase(join(tmp, `s${n++}.sqlite`), { migrationsDir: MIGRATIONS.node });
  return { db, store: new QueueStore(db) };
}

const NOW = 1_000_000;
const batching: Transport = { deliver: async () => ({ kind: 'delivered', response: '250' }), deliverMany: async () => [] };
const TRANSPORTS: Transports = { lmtp: batching, legacy: batching, forward: { deliver: batching.deliver } };
const lmtp = (mailbox: string, port = 24): QueuedDelivery => ({ recipient: mailbox, route: { kind: 'lmtp', mailbox, host: 'h', port } });
const legacy = (recipient: string, port = 25): QueuedDelivery => ({ recipient, route: { kind: 'legacy', host: 'old', port } });

function insert(store: QueueStore, id: string, deliveries: QueuedDelivery[]): void {
  store.insertAccepted({ id, receivedAt: NOW, envelopeFrom: 's@r.test', clientIp: '', helo: '', body: Buffer.from('x'), deliveries });
}

function claim(store: QueueStore, limit: number, max = 50, transports = TRANSPORTS): string[][] {
  const due = store.claimDue('w', NOW, 60_000, limit, 'remote');
  const sessions = claimSessions(store, due, transports, { owner: 'w', now: NOW, leaseMs: 60_000, max });
  return sessions.map((s) => s.map((d: ClaimedDelivery) => d.recipient));
}

it('one session per message and target with the same added headers; other routes, messages and targets go alone', () => {
  const { store } = fresh();
  const tagged: QueuedDelivery = { ...lmtp('c@x'), added: { headers: [['X-Spam', 'yes']], subjectPrefix: '[SPAM] ' } };
  const forward: QueuedDelivery = { recipient: 'f@x', route: { kind: 'forward', to: 'f@elsewhere' } };
  insert(store, 'A', [lmtp('a@x'), lmtp('b@x'), tagged, lmtp('d@x', 2424), forward, legacy('l1@y'), legacy('l2@y')]);
  insert(store, 'B', [lmtp('e@x')]);
  const sessions = claim(store, 100);
  assert.deepEqual(sessions.map((s) => s.join(' ')).sort(), ['a@x b@x', 'c@x', 'd@x', 'e@x', 'f@x', 'l1@y l2@y']);
});

it('a lead claimed alone takes its due mates from the queue, up to the bound; the rest stays claimable', () => {
  const { store } = fresh();
  insert(
    store,
    'A',
    ['r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7'].map((l) => legacy(`${l}@y`)),
  );
  assert.deepEqual(claim(store, 1, 3), [['r1@y', 'r2@y', 'r3@y']]);
  assert.deepEqual(claim(store, 1, 3), [['r4@y', 'r5@y', 'r6@y']]);
  assert.deepEqual(claim(store, 1, 3), [['r7@y']]);
  assert.deepEqual(claim(store, 1, 3), []);
});

it('copies not yet due or leased by another worker do not join; a transport without deliverMany sends one per session', () => {
  const { db, store } = fresh();
  insert(store, 'A', [legacy('a@y'), legacy('b@y'), legacy('c@y')]);
  db.prepare("UPDATE deliveries SET next_attempt_at = ? WHERE recipient = 'b@y'").run(NOW + 1);
  db.prepare("UPDATE deliveries SET lease_owner = 'other', lease_until = ? WHERE recipient = 'c@y'").run(NOW + 1);
  assert.deepEqual(claim(store, 1), [['a@y']]);
  const { store: s2 } = fresh();
  insert(s2, 'A', [legacy('a@y'), legacy('b@y')]);
  assert.deepEqual(claim(s2, 10, 50, { legacy: { deliver: batching.deliver } }), [['a@y'], ['b@y']]);
});

it('the same address twice (RCPT TO and LMTP replies are told apart by address) goes in separate sessions', () => {
  const { store } = fresh();
  insert(store, 'A', [legacy('Anna@y'), legacy('anna@y')]);
  assert.deepEqual(claim(store, 10), [['Anna@y'], ['anna@y']]);
});

it('claims mates with attempts counted and the lease set, as claimDue does', () => {
  const { db, store } = fresh();
  insert(store, 'A', [lmtp('a@x'), lmtp('b@x')]);
  claim(store, 1);
  assert.deepEqual(db.prepare('SELECT attempts, lease_owner AS owner, lease_until AS until FROM deliveries').all(), [
    { attempts: 1, owner: 'w', until: NOW + 60_000 },
    { attempts: 1, owner: 'w', until: NOW + 60_000 },
  ]);
});
