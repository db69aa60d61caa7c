// The pure state rules: phases against the clock, a task's stage, a section's light, the next boundary (the daily history: daily-history.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { phaseState, taskStage, sectionState, nextBoundary, type TaskFacts } from '#server/domain/section-state.ts';

const at = (iso: string) => new Date(iso);
const task = (over: Partial<TaskFacts>): TaskFacts => ({
  id: 1,
  summary: 'Work',
  type: 'Maintenance',
  isClosed: false,
  openedAt: '2026-01-01T00:00:00.000Z',
  closedAt: null,
  lastEditedAt: '2026-01-01T00:00:00.000Z',
  phases: [],
  ...over,
});
const plan = [
  { startsAt: null, endsAt: '2026-01-12T23:59:59.999Z' },
  { startsAt: '2026-01-13T00:00:00.000Z', endsAt: '2026-01-20T23:59:59.999Z' },
];

test('a phase is running through the last millisecond of its end day, done after it, upcoming before its start', () => {
  assert.equal(phaseState(plan[0], at('2026-01-12T23:59:59.999Z'), false), 'running');
  assert.equal(phaseState(plan[0], at('2026-01-13T00:00:00.000Z'), false), 'done');
  assert.equal(phaseState(plan[1], at('2026-01-12T23:59:59.999Z'), false), 'upcoming');
  assert.equal(
    phaseState({ startsAt: null, endsAt: null }, at('2026-01-12T00:00:00.000Z'), true),
    'done',
    'undated phase of a closed task',
  );
});

test('task stages: incident → issue, plan under way → running, plan ahead → upcoming, closed → closed', () => {
  assert.equal(taskStage(task({ type: 'Incident' }), at('2026-01-05T00:00:00Z')), 'issue');
  assert.equal(taskStage(task({ phases: plan }), at('2026-01-05T00:00:00Z')), 'running');
  assert.equal(taskStage(task({ phases: [plan[1]] }), at('2026-01-05T00:00:00Z')), 'upcoming');
  assert.equal(taskStage(task({ phases: plan }), at('2026-02-05T00:00:00Z')), 'open');
  assert.equal(taskStage(task({ type: 'Announcement' }), at('2026-02-05T00:00:00Z')), 'running');
  assert.equal(taskStage(task({ type: 'Bug' }), at('2026-02-05T00:00:00Z')), 'open');
  assert.equal(
    taskStage(task({ type: 'Incident', isClosed: true, closedAt: '2026-01-02T00:00:00Z' }), at('2026-01-05T00:00:00Z')),
    'closed',
  );
});

test('section state: incident beats announced work, finished plans and bugs leave it operational', () => {
  const now = at('2026-01-05T00:00:00Z');
  assert.equal(sectionState({ tasks: [], now }).state, 'operational');
  assert.equal(sectionState({ tasks: [task({ type: 'Bug' })], now }).state, 'operational');
  assert.equal(sectionState({ tasks: [task({ phases: plan })], now }).state, 'announcement');
  const v = sectionState({ tasks: [task({ phases: plan }), task({ id: 7, type: 'Incident', summary: 'Mail delayed' })], now });
  // The lasting reason (stored state changes, feeds) names tasks by number only: a summary may later be redacted.
  assert.deepEqual(v, { state: 'issues', reason: 'FS#7 Mail delayed', lasting: 'FS#7' });
  assert.equal(sectionState({ tasks: [task({ phases: plan })], now: at('2026-02-01T00:00:00Z') }).state, 'operational');
  const many = [1, 2, 3, 4, 5].map((id) => task({ id, type: 'Incident', summary: `Outage ${id}` }));
  assert.equal(sectionState({ tasks: many, now }).reason, 'FS#1 Outage 1; FS#2 Outage 2; FS#3 Outage 3; and 2 more');
  assert.equal(sectionState({ tasks: many, now }).lasting, 'FS#1, FS#2, FS#3 and 2 more');
});

test('a staff override wins until it expires; telemetry can only make the light worse', () => {
  const now = at('2026-01-05T00:00:00Z');
  const override = {
    state: 'issues' as const,
    reason: 'investigating',
    setAt: '2026-01-04T00:00:00Z',
    expiresAt: '2026-01-06T00:00:00.000Z',
  };
  assert.deepEqual(sectionState({ tasks: [], now, override }), { state: 'issues', reason: 'investigating', lasting: 'investigating' });
  assert.equal(sectionState({ tasks: [], now: at('2026-01-06T00:00:00Z'), override }).state, 'operational');
  const stale = { state: 'unknown' as const, reason: 'no telemetry for 10 minutes', at: '2026-01-04T23:50:00Z' };
  assert.deepEqual(sectionState({ tasks: [], now, telemetry: stale }), {
    state: 'unknown',
    reason: 'no telemetry for 10 minutes',
    lasting: 'no telemetry for 10 minutes',
  });
  assert.equal(sectionState({ tasks: [task({ type: 'Incident' })], now, telemetry: stale }).state, 'issues');
  assert.equal(sectionState({ tasks: [task({ phases: plan })], now, telemetry: { ...stale, state: 'operational' } }).state, 'announcement');
});

test('the next boundary is the nearest phase start or end (+1 ms), override expiry, or midnight', () => {
  const t = [task({ phases: plan })];
  assert.equal(nextBoundary(t, at('2026-01-12T10:00:00Z')).toISOString(), '2026-01-13T00:00:00.000Z');
  assert.equal(nextBoundary(t, at('2026-01-20T10:00:00Z')).toISOString(), '2026-01-21T00:00:00.000Z');
  assert.equal(
    nextBoundary(t, at('2026-01-14T10:00:00Z'), [
      { state: 'issues', reason: '', setAt: '', expiresAt: '2026-01-14T11:00:00.000Z' },
    ]).toISOString(),
    '2026-01-14T11:00:00.000Z',
  );
  assert.equal(nextBoundary([], at('2026-01-14T10:00:00Z')).toISOString(), '2026-01-15T00:00:00.000Z');
});
