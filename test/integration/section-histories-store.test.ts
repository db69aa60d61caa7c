// sectionHistories reads what the bars and the change list need from section_state_changes: the window's rows with
// the one in effect when it begins, the latest changes each with the state before it, and when recording began.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServiceState } from '#data/contracts/states.ts';
import { openBackendStore } from '#server/store/open.ts';
import { recordStateIfChanged, sectionHistories, stateChanges } from '#server/store/state-changes.ts';

const DAY = 86_400_000;
const T0 = Date.parse('2025-06-01T06:00:00.000Z');
const CYCLE: ServiceState[] = ['operational', 'issues', 'announcement', 'unknown'];

test('a long history: the window from `since` plus the state in effect then, the latest 20 with their previous states', () => {
  const db = openBackendStore(':memory:');
  try {
    // 60 changes of email, one every 4 days from 1 June 2025; dns stores one state; the others none.
    for (let i = 0; i < 60; i++)
      assert.ok(
        recordStateIfChanged(db, {
          slug: 'email',
          at: new Date(T0 + i * 4 * DAY).toISOString(),
          state: CYCLE[i % 4],
          reason: `r${i}`,
          source: 'tasks',
        }),
      );
    // webhosting: three changes long before the window and 19 in it, so the 20th newest is also the state in effect
    // when the window begins, and the state before it is one row further.
    for (let i = 0; i < 22; i++) {
      const at = new Date(i < 3 ? T0 + i * DAY : Date.parse('2025-12-01T00:00:00.000Z') + i * DAY).toISOString();
      recordStateIfChanged(db, { slug: 'webhosting', at, state: CYCLE[i % 4], reason: `w${i}`, source: 'telemetry' });
    }
    recordStateIfChanged(db, { slug: 'dns', at: '2026-01-02T00:00:00.000Z', state: 'issues', reason: 'FS#9', source: 'override' });
    const all = stateChanges(db, 'email');
    const since = '2025-10-18T00:00:00.000Z';
    const ids = Object.fromEntries(
      (db.prepare('SELECT slug, id FROM sections').all() as { slug: string; id: number }[]).map((r) => [r.slug, r.id]),
    );
    const h = sectionHistories(db, since, 20);
    assert.deepEqual([...h.keys()].sort(), [ids.email, ids.dns, ids.webhosting].sort(), 'sections with nothing stored are absent');

    const email = h.get(ids.email);
    assert.ok(email);
    assert.equal(email.firstAt, all[0].at);
    const firstInWindow = all.findIndex((c) => c.at >= since);
    assert.deepEqual(
      email.window,
      all.slice(firstInWindow - 1).map(({ at, state }) => ({ at, state })),
      'every row from `since` on, and the last one before it',
    );
    assert.ok(email.window[0].at < since && email.window[1].at >= since);
    assert.equal(email.recent.length, 20);
    assert.deepEqual(
      email.recent,
      all
        .slice(-20)
        .map((c, i, list) => ({
          at: c.at,
          from: i === 0 ? all[all.length - 21].state : list[i - 1].state,
          to: c.state,
          reason: c.reason,
          source: c.source,
        }))
        .reverse(),
      'newest first, each with the state before it',
    );

    const web = h.get(ids.webhosting);
    const webAll = stateChanges(db, 'webhosting');
    assert.equal(webAll.length, 22);
    assert.deepEqual(web?.window.length, 20, '19 in the window and the one in effect when it begins');
    assert.deepEqual(
      web?.recent.map((c) => [c.reason, c.from]),
      webAll
        .slice(2)
        .map((c, i) => [c.reason, webAll[i + 1].state])
        .reverse(),
    );

    assert.deepEqual(h.get(ids.dns), {
      firstAt: '2026-01-02T00:00:00.000Z',
      window: [{ at: '2026-01-02T00:00:00.000Z', state: 'issues' }],
      recent: [{ at: '2026-01-02T00:00:00.000Z', from: null, to: 'issues', reason: 'FS#9', source: 'override' }],
    });
  } finally {
    db.close();
  }
});
