// TIDINGS_LEGACY_HOST/_PORT (issue 13): a domain that needs an old MX and is given none gets the installation's, once
// the backend has recorded the value at start-up; nodes get it in the domain's record; a changed value moves exactly the
// domains on the old value and re-sends their records; unset, those domains keep it; scheduling and the import use it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { MxConfigPayload, type DomainRecord } from '#data/contracts/mx-config.ts';
import { issueNodeToken } from '#server/services/mail/issueNodeToken.ts';
import { publishLegacyDefault } from '#server/services/mail/legacyDefault.ts';
import { runSwitches } from '#server/jobs/switches.ts';
import { openBackendStore } from '#server/store/open.ts';
import { addDomain } from '#server/services/mail/addDomain.ts';
import { createChangeCounter } from '#server/deps.ts';
import { startServerMain } from '../support/server-main.ts';
import { makeHarness } from './api-harness.ts';

async function setup() {
  const h = makeHarness();
  const session = await h.admin();
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await h.request(method, path, { body, session });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  const token = issueNodeToken({ ctx: h.ctx, actor: { userId: null, name: 'cli' }, name: 'mx1' });
  const records = async (since = 0): Promise<DomainRecord[]> => {
    const res = await h.request('GET', `/api/v1/mx/config?since=${since}`, { headers: { authorization: `Bearer ${token}` } });
    const p = MxConfigPayload.parse(await res.json());
    return p.changes.flatMap((c) => (c.op === 'upsert' && c.entity === 'domain' ? [c.record] : []));
  };
  const version = () => (h.db.prepare('SELECT coalesce(max(version), 0) AS v FROM mail_config_changes').get() as { v: number }).v;
  return { h, call, records, version };
}

const hostOf = (r: { legacyHost: string | null; legacyPort: number | null } | undefined) => r && [r.legacyHost, r.legacyPort];

test('with an installation legacy MX, a domain that needs an old MX and has none gets it, in its record for the nodes too', async () => {
  const { h, call, records, version } = await setup();
  assert.equal((await call('POST', '/api/v1/mail/domains', { name: 'a.test', mode: 'legacy' })).status, 400, 'no default yet');
  assert.deepEqual(publishLegacyDefault(h.ctx, { host: 'old-mx.test', port: 2525 }), []);
  const add = await call('POST', '/api/v1/mail/domains', { name: 'a.test', mode: 'legacy' });
  assert.equal(add.status, 201, JSON.stringify(add.body));
  assert.deepEqual(hostOf(add.body), ['old-mx.test', 2525]);
  assert.equal((await call('POST', '/api/v1/mail/domains', { name: 'own.test', mode: 'shadow', legacyHost: 'mx.own.test' })).status, 201);
  assert.equal((await call('PATCH', '/api/v1/mail/domains/own.test', { legacyHost: null })).status, 200, 'cleared: the default');
  for (const name of ['b.test', 'later.test', 'active.test'])
    assert.equal((await call('POST', '/api/v1/mail/domains', { name })).status, 201);
  assert.equal((await call('POST', '/api/v1/mail/domains/b.test/switch-now', { mode: 'shadow' })).status, 200);
  const sw = await call('POST', '/api/v1/mail/domains/later.test/switches', { mode: 'legacy', at: '2026-01-15T13:00:00Z' });
  assert.equal(sw.status, 201, JSON.stringify(sw.body));
  const byName = new Map((await records()).map((r) => [r.name, r]));
  for (const name of ['a.test', 'own.test', 'b.test', 'later.test'])
    assert.deepEqual(hostOf(byName.get(name)), ['old-mx.test', 2525], name);
  assert.deepEqual(byName.get('later.test')?.switches, [{ mode: 'legacy', at: Date.parse('2026-01-15T13:00:00Z') }]);
  assert.deepEqual(hostOf(byName.get('active.test')), [null, null], 'an active domain needs none');
  h.advance(3_600_000);
  const deps = { db: h.db, clock: () => h.now(), log: pino({ level: 'silent' }), changes: h.changes };
  assert.deepEqual(runSwitches(deps), { applied: 1, cancelled: 0, comments: 0 });
  const imp = await call('POST', '/api/v1/mail/import', { postfixDomains: 'c.test\n', dryRun: false, newDomainMode: 'legacy' });
  assert.equal(imp.status, 200, JSON.stringify(imp.body));
  assert.deepEqual(hostOf((await call('GET', '/api/v1/mail/domains/c.test')).body), ['old-mx.test', 2525]);
  const v = version();
  assert.deepEqual(publishLegacyDefault(h.ctx, { host: 'old-mx.test', port: 2525 }), [], 'the same value: nothing to move');
  assert.equal(version(), v);
});

test('a changed installation legacy MX moves the domains on the old value and re-sends them; unset, they keep it', async () => {
  const { h, call, records, version } = await setup();
  publishLegacyDefault(h.ctx, { host: 'old-mx.test', port: null });
  for (const body of [
    { name: 'follows.test', mode: 'legacy' },
    { name: 'explicit.test', mode: 'shadow', legacyHost: 'old-mx.test' },
    { name: 'active.test' },
    { name: 'own.test', mode: 'legacy', legacyHost: 'mx.own.test' },
    { name: 'port.test', mode: 'legacy', legacyHost: 'old-mx.test', legacyPort: 2500 },
  ])
    assert.equal((await call('POST', '/api/v1/mail/domains', body)).status, 201);
  let v = version();
  assert.deepEqual(publishLegacyDefault(h.ctx, { host: 'new-mx.test', port: 2526 }), ['explicit.test', 'follows.test']);
  assert.deepEqual(
    (await records(v)).map((r) => [r.name, r.legacyHost, r.legacyPort]),
    [
      ['explicit.test', 'new-mx.test', 2526],
      ['follows.test', 'new-mx.test', 2526],
    ],
  );
  const audit = h.db.prepare("SELECT actor, detail FROM audit_log WHERE action = 'mail.legacy-default' ORDER BY id").all() as {
    actor: string;
    detail: string;
  }[];
  assert.equal(audit[1].actor, 'system');
  assert.deepEqual(JSON.parse(audit[1].detail), {
    from: { host: 'old-mx.test', port: null },
    to: { host: 'new-mx.test', port: 2526 },
    domains: ['explicit.test', 'follows.test'],
  });
  v = version();
  assert.deepEqual(publishLegacyDefault(h.ctx, null), []);
  assert.equal(version(), v, 'nothing to send: they keep new-mx.test as their own');
  assert.deepEqual(hostOf((await call('GET', '/api/v1/mail/domains/follows.test')).body), ['new-mx.test', 2526]);
  const r = await call('POST', '/api/v1/mail/domains', { name: 'late.test', mode: 'legacy' });
  assert.equal(r.status, 400);
  assert.match(r.body.detail, /needs a legacyHost/);
  assert.deepEqual(publishLegacyDefault(h.ctx, { host: 'third.test', port: null }), [], 'from none: nothing to move');
});

test('server/main.ts records TIDINGS_LEGACY_HOST at start and, when it changes, moves the domains on the old value', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-legacy-default-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const start = async (extra: Record<string, string>) =>
    (await startServerMain({ TIDINGS_STATE_DIR: dir, TIDINGS_ROLE: 'backend', ...extra })).stop();
  await start({ TIDINGS_LEGACY_HOST: 'old-mx.test' });
  const db = openBackendStore(dir);
  const ctx = { db, clock: () => new Date(), changes: createChangeCounter() };
  const input = { name: 'follows.test', mode: 'legacy' as const, legacyHost: null, legacyPort: null, catchAll: null };
  assert.equal(addDomain({ ctx, actor: { userId: null, name: 'test' }, input }).legacyHost, 'old-mx.test');
  db.close();
  await start({ TIDINGS_LEGACY_HOST: 'new-mx.test', TIDINGS_LEGACY_PORT: '2526' });
  const check = openBackendStore(dir);
  t.after(() => check.close());
  const rows = check.prepare("SELECT detail FROM audit_log WHERE action = 'mail.legacy-default' ORDER BY id").all() as { detail: string }[];
  assert.deepEqual(
    rows.map((r) => JSON.parse(r.detail)),
    [
      { from: null, to: { host: 'old-mx.test', port: null }, domains: [] },
      { from: { host: 'old-mx.test', port: null }, to: { host: 'new-mx.test', port: 2526 }, domains: ['follows.test'] },
    ],
  );
  const last = check.prepare("SELECT record FROM mail_config_changes WHERE key = 'follows.test' ORDER BY version DESC LIMIT 1").get() as {
    record: string;
  };
  assert.deepEqual(hostOf(JSON.parse(last.record)), ['new-mx.test', 2526]);
});
