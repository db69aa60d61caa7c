// Mail configuration API: CRUD, an audit row per change, problem details for bad input, and the node config feed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MxConfigPayload } from '#data/contracts/mx-config.ts';
import { issueNodeToken } from '#server/services/mail/issueNodeToken.ts';
import { makeHarness, type Session } from './api-harness.ts';

async function setup() {
  const h = makeHarness();
  const session: Session = await h.admin();
  const db = h.db;
  const deps = { db, clock: h.ctx.clock, changes: h.changes };
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}, as: Session | null = session) => {
    const res = await h.request(method, path, { body, headers, session: as ?? undefined });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: text ? JSON.parse(text) : null };
  };
  const auditRows = () =>
    db.prepare("SELECT action, target, actor FROM audit_log WHERE action LIKE 'mail.%' ORDER BY id").all() as {
      action: string;
      target: string;
      actor: string;
    }[];
  return { db, deps, call, auditRows, h, session };
}

test('domains, mailboxes and aliases: create, list, remove, each audited', async () => {
  const { call, auditRows } = await setup();
  let r = await call('POST', '/api/v1/mail/domains', { name: 'Example.COM' });
  assert.equal(r.status, 201);
  assert.equal(r.body.name, 'example.com');
  assert.equal(r.body.mode, 'active');
  r = await call('POST', '/api/v1/mail/mailboxes', { address: 'Anna@example.com' });
  assert.equal(r.status, 201);
  assert.equal(r.body.address, 'anna@example.com');
  assert.equal(r.body.delivery, 'maildir');
  r = await call('POST', '/api/v1/mail/mailboxes', { address: 'bob@example.com', delivery: 'lmtp', lmtpHost: '127.0.0.1', lmtpPort: 24 });
  assert.equal(r.status, 201);
  r = await call('POST', '/api/v1/mail/aliases', {
    address: 'anna@example.com',
    targets: ['anna@gmail.test', 'bob@example.com'],
    keepLocalCopy: true,
  });
  assert.equal(r.status, 201);
  assert.deepEqual(r.body.targets, ['anna@gmail.test', 'bob@example.com']);

  r = await call('GET', '/api/v1/mail/mailboxes?domain=example.com');
  assert.deepEqual(
    r.body.mailboxes.map((m: { address: string }) => m.address),
    ['anna@example.com', 'bob@example.com'],
  );
  r = await call('GET', '/api/v1/mail/aliases');
  assert.equal(r.body.aliases.length, 1);
  assert.equal(r.body.aliases[0].keepLocalCopy, true);

  r = await call('PATCH', '/api/v1/mail/domains/example.com', { mode: 'shadow', legacyHost: '127.0.0.1', legacyPort: 2526 });
  assert.equal(r.status, 200);
  assert.equal(r.body.mode, 'shadow');

  r = await call('DELETE', '/api/v1/mail/aliases/anna@example.com');
  assert.equal(r.status, 204);
  r = await call('DELETE', '/api/v1/mail/domains/example.com');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.removed, { mailboxes: 2, aliases: 0 });
  r = await call('GET', '/api/v1/mail/mailboxes');
  assert.deepEqual(r.body.mailboxes, []);

  assert.deepEqual(
    auditRows().map((a) => `${a.action} ${a.target}`),
    [
      'mail.domain.add example.com',
      'mail.mailbox.add anna@example.com',
      'mail.mailbox.add bob@example.com',
      'mail.alias.add anna@example.com',
      'mail.domain.update example.com',
      'mail.alias.remove anna@example.com',
      'mail.mailbox.remove anna@example.com',
      'mail.mailbox.remove bob@example.com',
      'mail.domain.remove example.com',
    ],
  );
  assert.ok(
    auditRows().every((a) => a.actor === 'alice'),
    'audit names the staff member',
  );
});

test('an external alias target keeps its local part; only the domain is lower-cased, in the store and the node feed', async () => {
  const { call, db } = await setup();
  assert.equal((await call('POST', '/api/v1/mail/domains', { name: 'example.com' })).status, 201);
  const r = await call('POST', '/api/v1/mail/aliases', { address: 'Fwd@Example.com', targets: ['Ext.User@Provider.Test'] });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.deepEqual(r.body.targets, ['Ext.User@provider.test']);
  assert.deepEqual(db.prepare('SELECT target FROM mail_alias_targets').pluck().all(), ['Ext.User@provider.test']);
  const change = db.prepare("SELECT record FROM mail_config_changes WHERE entity = 'alias'").pluck().get() as string;
  assert.deepEqual(JSON.parse(change).targets, ['Ext.User@provider.test']);
  // The schema still keeps the domain canonical.
  assert.throws(
    () =>
      db
        .prepare('INSERT INTO mail_alias_targets (alias_id, position, target) VALUES (?, 1, ?)')
        .run(db.prepare('SELECT id FROM mail_aliases').pluck().get(), 'x@Provider.Test'),
    /CHECK/,
  );
  // An alias cannot point at itself, whatever the spelling.
  assert.equal((await call('POST', '/api/v1/mail/aliases', { address: 'self@example.com', targets: ['Self@EXAMPLE.com'] })).status, 400);
});

test('only logged-in staff, with the CSRF token on writes', async () => {
  const { call, h, session } = await setup();
  const anon = await call('GET', '/api/v1/mail/domains', undefined, {}, null);
  assert.equal(anon.status, 401);
  assert.match(anon.type, /problem\+json/);
  assert.equal((await call('POST', '/api/v1/mail/domains', { name: 'x.test' }, {}, null)).status, 401);
  const noCsrf = await h.request('POST', '/api/v1/mail/domains', { body: { name: 'x.test' }, session, csrf: false });
  assert.equal(noCsrf.status, 403);
  assert.equal((await call('GET', '/api/v1/mail/domains')).body.domains.length, 0);
});

test('bad input is a problem+json naming the field, and nothing is written', async () => {
  const { call, auditRows, db } = await setup();
  const cases: [string, string, unknown, number, string][] = [
    ['POST', '/api/v1/mail/domains', { name: 'not a domain' }, 400, 'name'],
    ['POST', '/api/v1/mail/domains', { name: 'x.test', mode: 'legacy' }, 400, 'legacyHost'],
    ['POST', '/api/v1/mail/domains', { name: 'x.test', extra: 1 }, 400, 'extra'],
    ['POST', '/api/v1/mail/mailboxes', { address: 'nobody@unhosted.test' }, 400, 'address'],
    ['POST', '/api/v1/mail/mailboxes', { address: 'no-at-sign' }, 400, 'address'],
    ['POST', '/api/v1/mail/mailboxes', { address: 'a@x.test', delivery: 'lmtp' }, 400, 'delivery'],
    ['POST', '/api/v1/mail/aliases', { address: 'a@x.test', targets: [] }, 400, 'targets'],
  ];
  for (const [method, path, body, status, field] of cases) {
    const r = await call(method, path, body);
    assert.equal(r.status, status, `${JSON.stringify(body)} → ${r.status}`);
    assert.match(r.type, /application\/problem\+json/);
    assert.ok(
      r.body.errors.some((e: { field: string }) => e.field === field),
      `${JSON.stringify(body)} names ${field}: ${JSON.stringify(r.body.errors)}`,
    );
  }
  assert.equal((await call('POST', '/api/v1/mail/domains', { name: 'x.test' })).status, 201);
  const dup = await call('POST', '/api/v1/mail/domains', { name: 'X.test' });
  assert.equal(dup.status, 409);
  assert.equal((await call('DELETE', '/api/v1/mail/mailboxes/ghost@x.test')).status, 404);
  // A bad path parameter is named after the parameter, not reported as the body.
  for (const [method, path, field] of [
    ['DELETE', '/api/v1/mail/mailboxes/not-an-address', 'address'],
    ['GET', '/api/v1/mail/aliases/not-an-address', 'address'],
    ['DELETE', '/api/v1/mail/domains/not_a_domain', 'name'],
  ] as const) {
    const r = await call(method, path);
    assert.equal(r.status, 400, `${method} ${path}`);
    assert.match(r.type, /application\/problem\+json/);
    assert.equal(r.body.errors[0].field, field, `${method} ${path}: ${JSON.stringify(r.body.errors)}`);
  }
  const keep = await call('POST', '/api/v1/mail/aliases', { address: 'a@x.test', targets: ['b@y.test'], keepLocalCopy: true });
  assert.equal(keep.status, 400);
  assert.equal(auditRows().length, 1);
  assert.equal((db.prepare('SELECT count(*) AS n FROM mail_config_changes').get() as { n: number }).n, 1);
});

test('/mx/config: token required, only changes since the given version, deletes included', async () => {
  const { call, deps } = await setup();
  const token = issueNodeToken({ ctx: deps, actor: { userId: null, name: 'cli' }, name: 'mx1' });
  assert.equal((await call('GET', '/api/v1/mx/config', undefined, {}, null)).status, 401);
  const wrong = await call('GET', '/api/v1/mx/config', undefined, { authorization: 'Bearer mxn_wrong' }, null);
  assert.equal(wrong.status, 401);
  assert.match(wrong.type, /problem\+json/);
  const auth = { authorization: `Bearer ${token}` };
  const node = (path: string) => call('GET', path, undefined, auth, null);

  await call('POST', '/api/v1/mail/domains', { name: 'example.com' });
  await call('POST', '/api/v1/mail/mailboxes', { address: 'anna@example.com' });
  let r = await node('/api/v1/mx/config?since=0');
  assert.equal(r.status, 200);
  const first = MxConfigPayload.parse(r.body);
  assert.deepEqual(
    first.changes.map((c) => `${c.op} ${c.entity} ${c.key}`),
    ['upsert domain example.com', 'upsert mailbox anna@example.com'],
  );
  assert.equal(first.version, 2);
  assert.equal(first.more, false);

  await call('DELETE', '/api/v1/mail/mailboxes/anna@example.com');
  r = await node(`/api/v1/mx/config?since=${first.version}`);
  const second = MxConfigPayload.parse(r.body);
  assert.deepEqual(
    second.changes.map((c) => `${c.version} ${c.op} ${c.entity} ${c.key}`),
    ['3 delete mailbox anna@example.com'],
  );

  r = await node('/api/v1/mx/config?since=3');
  assert.deepEqual(r.body.changes, []);
  assert.equal(r.body.version, 3);
  assert.equal((await node('/api/v1/mx/config?since=-1')).status, 400);
  // A node ahead of the log (the backend was restored from an older backup) is told to start over.
  r = await node('/api/v1/mx/config?since=99');
  assert.equal(r.body.reset, true);
  assert.equal(r.body.since, 0);
  assert.equal(r.body.changes.length, 3);
  const seen = deps.db.prepare("SELECT last_version FROM mx_nodes WHERE name = 'mx1'").get() as { last_version: number };
  assert.equal(seen.last_version, 3);
});
