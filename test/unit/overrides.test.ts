// Section overrides: set, replace, clear, audited, and over at their expiry by the clock alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openBackendStore } from '#server/store/open.ts';
import { createChangeCounter } from '#server/deps.ts';
import { allOverrides } from '#server/store/overrides.ts';
import { activeOverride, overrideSignal } from '#server/services/overrides/active.ts';
import { setOverride } from '#server/services/overrides/setOverride.ts';
import { clearOverride } from '#server/services/overrides/clearOverride.ts';
import { problemOf } from '#server/http/problem.ts';

function setup() {
  let now = new Date('2030-05-01T10:00:00.000Z');
  const clock = () => new Date(now);
  const db = openBackendStore(':memory:', clock);
  const user = db
    .prepare(`INSERT INTO users (username, display_name, role, password_hash, created_at) VALUES ('ops', 'Ops Person', 'staff', 'x', ?)`)
    .run(now.toISOString());
  const ctx = { db, clock, changes: createChangeCounter(), publicUrl: 'http://localhost' };
  const actor = { userId: Number(user.lastInsertRowid), name: 'ops' };
  return {
    db,
    ctx,
    actor,
    clock,
    set: (iso: string) => {
      now = new Date(iso);
    },
  };
}

/** The HTTP status the API answers a refusal with (services raise domain errors; problemOf is the edge's mapping). */
const status = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    const p = problemOf(e);
    if (p) return p.status;
    throw e;
  }
  return 200;
};

test('an override is in force until its expiry, then ends on its own', () => {
  const s = setup();
  const row = setOverride({
    ctx: s.ctx,
    actor: s.actor,
    slug: 'email',
    input: { state: 'issues', note: 'Delays at one provider', expiresAt: '2030-05-01T14:00:00+02:00' },
  });
  assert.equal(row.expiresAt, '2030-05-01T12:00:00.000Z', 'stored as UTC');
  assert.equal(row.setBy, 'Ops Person');
  assert.equal(s.ctx.changes.version(), 1);
  const signal = overrideSignal(() => allOverrides(s.db));
  assert.deepEqual(signal('email', s.clock()), {
    state: 'issues',
    reason: 'Delays at one provider',
    setAt: '2030-05-01T10:00:00.000Z',
    expiresAt: '2030-05-01T12:00:00.000Z',
  });
  assert.equal(signal('dns', s.clock()), null);
  assert.ok(activeOverride(allOverrides(s.db), new Date('2030-05-01T11:59:59.999Z')));
  assert.equal(activeOverride(allOverrides(s.db), new Date('2030-05-01T12:00:00.000Z')), null, 'over exactly at the expiry');
  s.set('2030-05-01T12:00:01.000Z');
  assert.equal(signal('email', s.clock()), null);
  assert.equal(allOverrides(s.db).length, 1, 'no clean-up job needed: the row stays, ignored');
});

test('setting again replaces; clearing ends it early; both are audited', () => {
  const s = setup();
  setOverride({ ctx: s.ctx, actor: s.actor, slug: 'email', input: { state: 'issues', note: 'first', expiresAt: '2030-05-01T12:00:00Z' } });
  setOverride({
    ctx: s.ctx,
    actor: s.actor,
    slug: 'email',
    input: { state: 'announcement', note: 'second', expiresAt: '2030-05-02T12:00:00Z' },
  });
  const rows = allOverrides(s.db);
  assert.equal(rows.length, 1);
  assert.equal(rows[0].state, 'announcement');
  assert.equal(rows[0].note, 'second');
  assert.equal(clearOverride({ ctx: s.ctx, actor: s.actor, slug: 'email' }), true);
  assert.equal(clearOverride({ ctx: s.ctx, actor: s.actor, slug: 'email' }), false);
  assert.equal(allOverrides(s.db).length, 0);
  const audit = s.db.prepare(`SELECT actor, action, target FROM audit_log WHERE action LIKE 'section.override.%' ORDER BY id`).all();
  assert.deepEqual(audit, [
    { actor: 'ops', action: 'section.override.set', target: 'email' },
    { actor: 'ops', action: 'section.override.set', target: 'email' },
    { actor: 'ops', action: 'section.override.clear', target: 'email' },
  ]);
  assert.equal(s.ctx.changes.version(), 3, 'a no-op clear does not rebuild public pages');
});

test('refused: an expiry in the past or now, more than 30 days ahead, an unknown section; nothing written', () => {
  const s = setup();
  const set = (slug: string, expiresAt: string) => () =>
    setOverride({ ctx: s.ctx, actor: s.actor, slug, input: { state: 'unknown', note: '', expiresAt } });
  assert.equal(status(set('email', '2030-05-01T10:00:00Z')), 400);
  assert.equal(status(set('email', '2030-04-30T10:00:00Z')), 400);
  assert.equal(status(set('email', '2030-06-01T10:00:00Z')), 400);
  assert.equal(status(set('nope', '2030-05-01T11:00:00Z')), 404);
  assert.equal(
    status(() => clearOverride({ ctx: s.ctx, actor: s.actor, slug: 'nope' })),
    404,
  );
  assert.equal(allOverrides(s.db).length, 0);
  assert.equal(s.ctx.changes.version(), 0);
});

test('the newest unexpired row wins when several are given', () => {
  const rows = [
    { setAt: '2030-05-01T09:00:00.000Z', expiresAt: '2030-05-01T20:00:00.000Z', id: 'old' },
    { setAt: '2030-05-01T09:30:00.000Z', expiresAt: '2030-05-01T09:45:00.000Z', id: 'expired' },
    { setAt: '2030-05-01T09:10:00.000Z', expiresAt: '2030-05-01T20:00:00.000Z', id: 'newer' },
  ];
  assert.equal(activeOverride(rows, new Date('2030-05-01T10:00:00Z'))?.id, 'newer');
  assert.equal(activeOverride(rows, new Date('2030-05-01T09:40:00Z'))?.id, 'expired');
  assert.equal(activeOverride(rows, new Date('2030-05-01T20:00:00Z')), null);
});
