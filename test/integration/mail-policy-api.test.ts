// Mail policies through the API: set, list, remove at the three levels, the effective policy with each setting's
// source, the change log nodes read, cascades on removal, and the 4xx problems for bad input and missing auth.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_POLICY } from '#data/contracts/mail-policy.ts';
import { MxConfigPayload } from '#data/contracts/mx-config.ts';
import { openDatabase, MIGRATIONS, migrate, readMigrations } from '#data/db.ts';
import { authenticateNode, configChanges } from '#server/services/mail/configChanges.ts';
import { issueNodeToken } from '#server/services/mail/issueNodeToken.ts';
import { makeHarness, type Session } from './api-harness.ts';

async function setup() {
  const h = makeHarness();
  const session: Session = await h.admin();
  const db = h.db;
  const call = async (method: string, path: string, body?: unknown, as: Session | null = session) => {
    const res = await h.request(method, path, { body, session: as ?? undefined });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: text ? JSON.parse(text) : null };
  };
  const changes = () =>
    (
      db.prepare("SELECT version, op, key, record FROM mail_config_changes WHERE entity = 'policy' ORDER BY version").all() as {
        op: string;
        key: string;
        record: string | null;
      }[]
    ).map((r) => `${r.op} ${r.key}${r.record ? ` ${JSON.stringify(JSON.parse(r.record).settings)}` : ''}`);
  const audit = () =>
    (
      db.prepare("SELECT action, target FROM audit_log WHERE action LIKE 'mail.policy.%' ORDER BY id").all() as {
        action: string;
        target: string;
      }[]
    ).map((r) => `${r.action} ${r.target}`);
  await call('POST', '/api/v1/mail/domains', { name: 'example.com' });
  await call('POST', '/api/v1/mail/mailboxes', { address: 'anna@example.com' });
  await call('POST', '/api/v1/mail/aliases', { address: 'info@example.com', targets: ['anna@example.com'] });
  return { h, db, call, changes, audit, session };
}

test('each level set, listed, inherited with its source, removed; every change audited and logged for the nodes', async () => {
  const { call, changes, audit } = await setup();
  let r = await call('GET', '/api/v1/mail/addresses/Anna@Example.com/policy');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.policy, DEFAULT_POLICY);
  assert.equal(r.body.source.spam, 'installation');

  r = await call('PUT', '/api/v1/mail/policies/installation/*', { spam: 'remove', spamThreshold: 8 });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.settings, { spam: 'remove', spamThreshold: 8 });
  r = await call('PUT', '/api/v1/mail/policies/domain/EXAMPLE.com', { dmarc: 'honour', spam: 'tag' });
  assert.equal(r.status, 200);
  assert.equal(r.body.key, 'example.com');
  r = await call('PUT', '/api/v1/mail/policies/address/Info@example.com', { spam: 'reject', subjectPrefix: '<b>&"' });
  assert.equal(r.status, 200);

  r = await call('GET', '/api/v1/mail/policies');
  assert.deepEqual(
    r.body.policies.map((p: { scope: string; key: string }) => `${p.scope} ${p.key}`),
    ['installation *', 'domain example.com', 'address info@example.com'],
  );
  assert.deepEqual(r.body.default, DEFAULT_POLICY);

  r = await call('GET', '/api/v1/mail/addresses/info@example.com/policy');
  assert.deepEqual(r.body.policy, { spam: 'reject', spamThreshold: 8, subjectPrefix: '<b>&"', virus: 'remove', dmarc: 'honour' });
  assert.deepEqual(r.body.source, {
    spam: 'address',
    spamThreshold: 'installation',
    subjectPrefix: 'address',
    virus: 'installation',
    dmarc: 'domain',
  });
  r = await call('GET', '/api/v1/mail/addresses/anna@example.com/policy');
  assert.deepEqual(r.body.policy, { ...DEFAULT_POLICY, spam: 'tag', spamThreshold: 8, dmarc: 'honour' });
  assert.equal(r.body.source.spam, 'domain');

  // Empty settings remove the level; so does DELETE.
  assert.equal((await call('PUT', '/api/v1/mail/policies/address/info@example.com', {})).status, 204);
  assert.equal((await call('DELETE', '/api/v1/mail/policies/domain/example.com')).status, 204);
  assert.equal((await call('DELETE', '/api/v1/mail/policies/domain/example.com')).status, 404);
  r = await call('GET', '/api/v1/mail/addresses/info@example.com/policy');
  assert.deepEqual(r.body.policy, { ...DEFAULT_POLICY, spam: 'remove', spamThreshold: 8 });
  assert.deepEqual(changes(), [
    'upsert * {"spam":"remove","spamThreshold":8}',
    'upsert example.com {"spam":"tag","dmarc":"honour"}',
    'upsert info@example.com {"spam":"reject","subjectPrefix":"<b>&\\""}',
    'delete info@example.com',
    'delete example.com',
  ]);
  assert.deepEqual(audit(), [
    'mail.policy.set *',
    'mail.policy.set example.com',
    'mail.policy.set info@example.com',
    'mail.policy.remove info@example.com',
    'mail.policy.remove example.com',
  ]);
});

test('removing an alias, a mailbox or a domain removes its policy (logged before the removal); a shared address keeps it', async () => {
  const { call, changes, h } = await setup();
  await call('POST', '/api/v1/mail/aliases', { address: 'anna@example.com', targets: ['x@elsewhere.test'], keepLocalCopy: true });
  await call('POST', '/api/v1/mail/mailboxes', { address: 'bob@example.com' });
  for (const key of ['anna@example.com', 'info@example.com', 'bob@example.com'])
    assert.equal((await call('PUT', `/api/v1/mail/policies/address/${key}`, { virus: 'reject' })).status, 200);
  assert.equal((await call('PUT', '/api/v1/mail/policies/domain/example.com', { virus: 'reject' })).status, 200);
  const before = changes().length;

  // The alias anna@ goes, the mailbox anna@ stays: its policy stays.
  assert.equal((await call('DELETE', '/api/v1/mail/aliases/anna@example.com')).status, 204);
  assert.equal(changes().length, before);
  assert.equal((await call('DELETE', '/api/v1/mail/aliases/info@example.com')).status, 204);
  assert.deepEqual(changes().slice(before), ['delete info@example.com']);
  const order = h.db
    .prepare("SELECT entity || ' ' || key FROM mail_config_changes WHERE key = 'info@example.com' AND op = 'delete' ORDER BY version")
    .pluck()
    .all();
  assert.deepEqual(order, ['policy info@example.com', 'alias info@example.com']);

  const r = await call('DELETE', '/api/v1/mail/domains/example.com');
  assert.equal(r.status, 200);
  assert.deepEqual(changes().slice(before + 1), ['delete anna@example.com', 'delete bob@example.com', 'delete example.com']);
  assert.deepEqual((await call('GET', '/api/v1/mail/policies')).body.policies, []);
});

test('bad input is a problem+json naming the field; an unhosted level is 404; nothing is written', async () => {
  const { call, changes, audit } = await setup();
  const cases: [string, string, unknown, number, string | null][] = [
    ['PUT', '/api/v1/mail/policies/address/anna@example.com', { spam: 'bounce' }, 400, 'spam'],
    ['PUT', '/api/v1/mail/policies/address/anna@example.com', { virus: 'deliver' }, 400, 'virus'],
    ['PUT', '/api/v1/mail/policies/address/anna@example.com', { dmarc: 'maybe' }, 400, 'dmarc'],
    ['PUT', '/api/v1/mail/policies/address/anna@example.com', { spamThreshold: '5' }, 400, 'spamThreshold'],
    ['PUT', '/api/v1/mail/policies/address/anna@example.com', { subjectPrefix: 'a\r\nBcc: x' }, 400, 'subjectPrefix'],
    ['PUT', '/api/v1/mail/policies/address/anna@example.com', { subjectPrefix: 'x'.repeat(65) }, 400, 'subjectPrefix'],
    ['PUT', '/api/v1/mail/policies/address/anna@example.com', { greylist: true }, 400, 'greylist'],
    ['PUT', '/api/v1/mail/policies/everyone/anna@example.com', { spam: 'tag' }, 400, 'scope'],
    ['PUT', '/api/v1/mail/policies/installation/example.com', { spam: 'tag' }, 400, 'key'],
    ['PUT', '/api/v1/mail/policies/domain/not_a_domain', { spam: 'tag' }, 400, 'key'],
    ['PUT', '/api/v1/mail/policies/address/no-at-sign', { spam: 'tag' }, 400, 'key'],
    ['PUT', '/api/v1/mail/policies/domain/anna@example.com', { spam: 'tag' }, 400, 'key'],
    ['PUT', '/api/v1/mail/policies/domain/unhosted.test', { spam: 'tag' }, 404, null],
    ['PUT', '/api/v1/mail/policies/address/ghost@example.com', { spam: 'tag' }, 404, null],
    ['DELETE', '/api/v1/mail/policies/installation/*', undefined, 404, null],
    ['GET', '/api/v1/mail/addresses/ghost@example.com/policy', undefined, 404, null],
    ['GET', '/api/v1/mail/addresses/not-an-address/policy', undefined, 400, 'address'],
  ];
  for (const [method, path, body, status, field] of cases) {
    const r = await call(method, path, body);
    assert.equal(r.status, status, `${method} ${path} ${JSON.stringify(body)} → ${r.status} ${JSON.stringify(r.body)}`);
    assert.match(r.type, /application\/problem\+json/);
    if (field)
      assert.ok(
        r.body.errors?.some((e: { field: string }) => e.field === field),
        `${path} ${JSON.stringify(body)} names ${field}: ${JSON.stringify(r.body.errors)}`,
      );
  }
  assert.deepEqual(changes(), []);
  assert.deepEqual(audit(), []);
});

test('only logged-in staff, with the CSRF token on writes', async () => {
  const { call, h, session, changes } = await setup();
  for (const [method, path] of [
    ['GET', '/api/v1/mail/policies'],
    ['GET', '/api/v1/mail/addresses/anna@example.com/policy'],
    ['PUT', '/api/v1/mail/policies/installation/*'],
    ['DELETE', '/api/v1/mail/policies/installation/*'],
  ] as const) {
    const r = await call(method, path, method === 'PUT' ? { spam: 'reject' } : undefined, null);
    assert.equal(r.status, 401, `${method} ${path}`);
    assert.match(r.type, /problem\+json/);
  }
  const noCsrf = await h.request('PUT', '/api/v1/mail/policies/installation/*', { body: { spam: 'reject' }, session, csrf: false });
  assert.equal(noCsrf.status, 403);
  assert.deepEqual(changes(), []);
});

test('the node feed carries policy upserts and deletes that parse as the contract', async () => {
  const { call, h } = await setup();
  await call('PUT', '/api/v1/mail/policies/installation/*', { spam: 'reject', spamThreshold: null });
  await call('DELETE', '/api/v1/mail/policies/installation/*');
  const token = issueNodeToken({ ctx: h.ctx, actor: { userId: null, name: 'cli' }, name: 'mx1' });
  const payload = MxConfigPayload.parse(
    configChanges({ db: h.db, node: authenticateNode(h.db, token)!, since: 3, now: new Date().toISOString() }),
  );
  assert.deepEqual(payload.changes, [
    {
      version: 4,
      op: 'upsert',
      entity: 'policy',
      key: '*',
      record: { scope: 'installation', key: '*', settings: { spam: 'reject', spamThreshold: null } },
    },
    { version: 5, op: 'delete', entity: 'policy', key: '*' },
  ]);
});

test('the migration keeps every change-log version and the AUTOINCREMENT counter', () => {
  const db = openDatabase(':memory:');
  const dir = MIGRATIONS.backend;
  // Migrate to 009, write a log whose newest row is gone, then apply 010.
  for (const m of readMigrations(dir).filter((m) => m.version <= 9)) db.exec(m.sql);
  db.pragma('user_version = 9');
  const add = db.prepare("INSERT INTO mail_config_changes (at, entity, key, op, record) VALUES ('t', 'domain', ?, 'delete', NULL)");
  for (const k of ['a.test', 'b.test', 'c.test']) add.run(k);
  db.prepare('DELETE FROM mail_config_changes WHERE version = 3').run();
  assert.equal(migrate(db, dir), readMigrations(dir).length - 9);
  assert.deepEqual(db.prepare('SELECT version FROM mail_config_changes ORDER BY version').pluck().all(), [1, 2]);
  const v = db.prepare("INSERT INTO mail_config_changes (at, entity, key, op, record) VALUES ('t', 'policy', '*', 'delete', NULL)").run();
  assert.equal(Number(v.lastInsertRowid), 4, 'version 3 is never reused');
});
