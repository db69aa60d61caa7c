// POST /api/v1/mail/import: staff session + CSRF; a dry run answers the diff, a real run applies it once; bad lines are a
// 400 problem naming each file:line, and nothing is written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DB } from '#data/db.ts';
import { makeHarness } from './api-harness.ts';

const count = (db: DB) =>
  ['mail_domains', 'mail_mailboxes', 'mail_aliases', 'mail_policies', 'mail_config_changes', 'audit_log'].map(
    (t) => (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n,
  );

const POSTFIX = {
  postfixDomains: 'example.com\nexample.org\n',
  postfixMailboxes: 'anna@example.com example.com/anna/\nbob@example.org example.org/bob/\n',
  postfixAliases: '# lists\ninfo@example.com anna@example.com, bob@example.org\nfwd@example.org someone@provider.test\n',
};

test('API import: dry run → the diff and nothing written; real run → applied and audited as the user; again → nothing', async () => {
  const h = makeHarness();
  const session = await h.admin();
  const call = async (body: unknown) => {
    const res = await h.request('POST', '/api/v1/mail/import', { session, body });
    return { status: res.status, type: res.headers.get('content-type'), body: await res.json() };
  };
  const before = count(h.db);
  let r = await call({ ...POSTFIX, dryRun: true, legacyHost: 'old-mx.example.net' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(count(h.db), before);
  assert.equal(r.body.dryRun, true);
  assert.equal(r.body.applied, 0);
  assert.deepEqual(r.body.counts.mailbox, { create: 2, update: 0, unchanged: 0 });
  assert.deepEqual(r.body.counts.alias, { create: 2, update: 0, unchanged: 0 });
  assert.ok(r.body.diff.includes('+ alias info@example.com: → anna@example.com, bob@example.org  (virtual_alias_maps:2)'), r.body.diff);
  assert.equal(r.body.changes.length, 6);

  r = await call({ ...POSTFIX, dryRun: false, legacyHost: 'old-mx.example.net' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.applied, 6);
  const after = count(h.db);
  assert.equal(after[4] - before[4], 6, 'six change-log versions');
  const audit = h.db.prepare("SELECT actor, user_id FROM audit_log WHERE action = 'mail.import'").all() as {
    actor: string;
    user_id: number;
  }[];
  assert.equal(audit.length, 1);
  assert.equal(audit[0].user_id, session.userId);

  r = await call({ ...POSTFIX, dryRun: false, legacyHost: 'old-mx.example.net' });
  assert.equal(r.body.applied, 0);
  assert.deepEqual(count(h.db), after);
});

test('API import: a virtual_alias_maps catch-all sets the domain catch-all (hosted or new), audited; again → nothing', async () => {
  const h = makeHarness();
  const session = await h.admin();
  const hosted = await h.request('POST', '/api/v1/mail/domains', { session, body: { name: 'example.net' } });
  assert.equal(hosted.status, 201);
  const body = {
    postfixDomains: 'example.com\n',
    postfixAliases: '@example.com anna@example.com\n@example.net postmaster@example.net\n',
    dryRun: false,
    newDomainMode: 'active',
  };
  const r = await h.request('POST', '/api/v1/mail/import', { session, body });
  const p = (await r.json()) as { applied: number; diff: string };
  assert.equal(r.status, 200, JSON.stringify(p));
  assert.equal(p.applied, 2);
  const catchAll = (name: string) =>
    (h.db.prepare('SELECT catch_all FROM mail_domains WHERE name = ?').get(name) as { catch_all: string | null }).catch_all;
  assert.equal(catchAll('example.com'), 'anna@example.com');
  assert.equal(catchAll('example.net'), 'postmaster@example.net');
  const actions = h.db.prepare("SELECT action FROM audit_log WHERE action LIKE 'mail.domain.%' ORDER BY id").all();
  assert.deepEqual(
    actions.map((a) => (a as { action: string }).action),
    ['mail.domain.add', 'mail.domain.add', 'mail.domain.update'],
  );
  const again = await h.request('POST', '/api/v1/mail/import', { session, body });
  assert.equal(((await again.json()) as { applied: number }).applied, 0);
});

test('API import: bad lines are a 400 problem naming each one, nothing written; auth and CSRF required', async () => {
  const h = makeHarness();
  const session = await h.admin();
  const before = count(h.db);
  const res = await h.request('POST', '/api/v1/mail/import', {
    session,
    body: {
      csv: 'domain,address,type,targets,spam_policy,virus_policy\nexample.com,a@example.com,mailbox,,,\nexample.com,<b>@x,mailbox,,,\nexample.com,c@example.com,alias,,,\n',
      dryRun: false,
      newDomainMode: 'active',
    },
  });
  assert.equal(res.status, 400);
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  const p = (await res.json()) as { detail: string; errors: { field: string; message: string }[] };
  assert.equal(p.detail, '2 bad line(s); nothing was imported.');
  assert.deepEqual(
    p.errors.map((e) => e.field),
    ['csv:3', 'csv:4'],
  );
  assert.deepEqual(count(h.db), before);

  const body = { ...POSTFIX, dryRun: true, newDomainMode: 'active' };
  assert.equal((await h.request('POST', '/api/v1/mail/import', { body })).status, 401);
  assert.equal((await h.request('POST', '/api/v1/mail/import', { body, session, csrf: false })).status, 403);
  const both = await h.request('POST', '/api/v1/mail/import', { body: { ...body, csv: 'x' }, session });
  assert.equal(both.status, 400);
});
