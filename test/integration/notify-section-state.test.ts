// Issue 14: a section's public state change reaches the outbox in the transaction that stores it. Automatic changes
// (telemetry, tasks) are debounced per section (one event per 15 minutes, the final state announced once the window
// has passed); staff overrides are announced at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { ServiceState } from '#data/contracts/states.ts';
import type { NotifyPayload } from '#data/contracts/notify.ts';
import { openBackendStore } from '#server/store/open.ts';
import { createChangeCounter } from '#server/deps.ts';
import { createStatusSnapshots } from '#server/services/status-snapshot.ts';
import { overrideSignal } from '#server/services/overrides/active.ts';
import { allOverrides } from '#server/store/overrides.ts';
import { setOverride } from '#server/services/overrides/setOverride.ts';
import { clearOverride } from '#server/services/overrides/clearOverride.ts';
import { announceWaitingStates } from '#server/services/notify/section-state.ts';
import { startJobs } from '#server/jobs/schedule.ts';

const PUBLIC = 'https://status.example.net';
const T0 = Date.parse('2026-05-01T12:00:00.000Z');
const MIN = 60_000;

function setup() {
  let now = T0;
  const clock = () => new Date(now);
  const db = openBackendStore(':memory:', clock);
  const changes = createChangeCounter();
  // The Email section's telemetry light, set by the test; the other sections have none.
  let light: ServiceState | null = null;
  const snapshots = createStatusSnapshots({
    db,
    clock,
    changes,
    displayTimeZone: 'UTC',
    publicUrl: PUBLIC,
    recordStateChanges: true,
    signals: {
      override: overrideSignal(() => allOverrides(db)),
      telemetry: (slug, at) => (slug === 'email' && light ? { state: light, reason: `mail is ${light}`, at: at.toISOString() } : null),
    },
  });
  const ctx = { db, clock, changes, publicUrl: PUBLIC };
  return {
    db,
    ctx,
    clock,
    at: (minutes: number) => {
      now = T0 + minutes * MIN;
    },
    /** The light shows `state` and the page is evaluated (a view or the status job). */
    light: (state: ServiceState | null) => {
      light = state;
      changes.bump();
      snapshots.current();
    },
    events: () =>
      (
        db.prepare("SELECT at, section_id, payload FROM notify_events WHERE kind = 'section-state' ORDER BY id").all() as {
          at: string;
          section_id: number;
          payload: string;
        }[]
      ).map((r) => ({ at: r.at, sectionId: r.section_id, ...(JSON.parse(r.payload) as NotifyPayload) })),
    stored: () =>
      (
        db
          .prepare("SELECT count(*) AS n FROM section_state_changes c JOIN sections s ON s.id = c.section_id WHERE s.slug = 'email'")
          .get() as { n: number }
      ).n,
  };
}

const iso = (minutes: number) => new Date(T0 + minutes * MIN).toISOString();

test('a light flapping 5 times in 10 minutes: one event at once, and one for the final state after the window', () => {
  const s = setup();
  s.light(null); // first evaluation: every section's baseline, no news
  assert.equal(s.events().length, 0);
  const flaps: [number, ServiceState][] = [
    [1, 'issues'],
    [3, 'operational'],
    [5, 'issues'],
    [7, 'operational'],
    [9, 'unknown'],
  ];
  for (const [m, state] of flaps) {
    s.at(m);
    s.light(state === 'operational' ? null : state);
  }
  assert.equal(s.stored(), 6, 'every change is stored for the page');
  let ev = s.events();
  assert.equal(ev.length, 1, 'one event in the window');
  assert.equal(ev[0].at, iso(1));
  assert.equal(ev[0].subject, 'Email: active issues or failures');
  assert.deepEqual(ev[0].changes, [{ field: 'state', from: 'operational', to: 'issues' }]);
  assert.deepEqual(ev[0].section, { slug: 'email', name: 'Email' });
  assert.equal(ev[0].url, `${PUBLIC}/section/email`);
  assert.ok(ev[0].text.includes('mail is issues'));

  s.at(15);
  assert.equal(announceWaitingStates(s.ctx), 0, 'the window (15 minutes from the announcement) has not passed');
  s.at(16);
  assert.equal(announceWaitingStates(s.ctx), 1);
  s.at(17);
  assert.equal(announceWaitingStates(s.ctx), 0, 'announced once');
  ev = s.events();
  assert.equal(ev.length, 2);
  assert.equal(ev[1].at, iso(16));
  assert.deepEqual(ev[1].changes, [{ field: 'state', from: 'issues', to: 'unknown' }]);
  assert.ok(ev[1].text.includes('mail is unknown'));
});

test('a light that flaps back to the announced state announces nothing more; a change after the window goes at once', () => {
  const s = setup();
  s.light(null);
  s.at(1);
  s.light('issues');
  s.at(2);
  s.light(null);
  s.at(4);
  s.light('issues');
  s.at(30);
  assert.equal(announceWaitingStates(s.ctx), 0);
  assert.equal(s.events().length, 1);
  s.at(31);
  s.light(null);
  const ev = s.events();
  assert.equal(ev.length, 2, 'the window had passed: announced when stored');
  assert.equal(ev[1].at, iso(31));
  assert.deepEqual(ev[1].changes, [{ field: 'state', from: 'issues', to: 'operational' }]);
});

test('staff overrides are announced at once, inside the window; clearing one announces the state it falls back to', () => {
  const s = setup();
  s.light(null);
  s.at(1);
  s.light('issues');
  s.at(2);
  const actor = { userId: null, name: 'test' };
  setOverride({ ctx: s.ctx, actor, slug: 'email', input: { state: 'announcement', note: 'Maintenance <tonight>', expiresAt: iso(600) } });
  let ev = s.events();
  assert.equal(ev.length, 2, 'at once, written by the override itself');
  assert.equal(ev[1].at, iso(2));
  assert.deepEqual(ev[1].changes, [{ field: 'state', from: 'issues', to: 'announcement' }]);
  assert.ok(ev[1].html.includes('Maintenance &lt;tonight&gt;'));
  s.light('issues'); // the page now shows the override: stored, but not announced a second time
  assert.equal(s.events().length, 2);
  setOverride({ ctx: s.ctx, actor, slug: 'email', input: { state: 'announcement', note: 'same state, new note', expiresAt: iso(600) } });
  assert.equal(s.events().length, 2, 'an override that changes no state is no news');

  s.at(3);
  clearOverride({ ctx: s.ctx, actor, slug: 'email' });
  s.light('issues');
  ev = s.events();
  assert.equal(ev.length, 3, 'the state after a cleared override is announced when stored, not after the window');
  assert.deepEqual(ev[2].changes, [{ field: 'state', from: 'announcement', to: 'issues' }]);
  s.at(4);
  s.light(null);
  assert.equal(s.events().length, 3, 'automatic changes after it are debounced again');
});

test('the job schedule runs the check with the injected clock', async () => {
  const s = setup();
  s.light(null);
  s.at(1);
  s.light('issues');
  s.at(2);
  s.light('unknown');
  s.at(20);
  const jobs = startJobs({ db: s.db, clock: s.clock, log: pino({ level: 'silent' }), changes: createChangeCounter(), publicUrl: PUBLIC });
  try {
    jobs.runNow();
  } finally {
    await jobs.stop();
  }
  const ev = s.events();
  assert.equal(ev.length, 2);
  assert.equal(ev[1].at, iso(20));
  assert.deepEqual(ev[1].changes, [{ field: 'state', from: 'issues', to: 'unknown' }]);
});
