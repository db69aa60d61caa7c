// The daily bars from stored state changes: the state in effect and every change of a UTC day, shown by the worst;
// no data before the first stored state; nothing from after now.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WORST_FIRST } from '#data/contracts/status.ts';
import { sectionState } from '#server/domain/section-state.ts';
import { historyStart, storedDailyHistory, type StoredState } from '#server/domain/daily-history.ts';

const now = new Date('2026-01-10T12:00:00.000Z');
const short = (changes: StoredState[], at = now) =>
  storedDailyHistory(changes, at, 10).map((d) => `${d.day.slice(8)}:${d.state ? d.state.slice(0, 3) : '-'}`);

test('ten days ending today, oldest first; with nothing stored every day is no data', () => {
  const days = storedDailyHistory([], now, 10);
  assert.deepEqual(
    days.map((d) => d.day),
    ['01', '02', '03', '04', '05', '06', '07', '08', '09', '10'].map((d) => `2026-01-${d}`),
  );
  assert.ok(days.every((d) => d.state === null && d.states.length === 0));
  assert.equal(new Date(historyStart(now, 10)).toISOString(), '2026-01-01T00:00:00.000Z');
});

test('a state lasts until the next change; days before the first stored state have no data', () => {
  assert.deepEqual(
    short([
      { at: '2026-01-04T09:30:00.000Z', state: 'operational' },
      { at: '2026-01-06T23:59:59.999Z', state: 'announcement' },
      { at: '2026-01-08T00:00:00.000Z', state: 'operational' },
    ]),
    ['01:-', '02:-', '03:-', '04:ope', '05:ope', '06:ann', '07:ann', '08:ope', '09:ope', '10:ope'],
  );
});

test('a day that saw several states shows the worst: issues > unknown > announcement > operational', () => {
  assert.deepEqual(WORST_FIRST, ['issues', 'unknown', 'announcement', 'operational']);
  const days = storedDailyHistory(
    [
      { at: '2026-01-02T08:00:00.000Z', state: 'announcement' },
      { at: '2026-01-03T08:00:00.000Z', state: 'unknown' },
      { at: '2026-01-03T09:00:00.000Z', state: 'announcement' },
      { at: '2026-01-04T08:00:00.000Z', state: 'issues' },
      { at: '2026-01-04T08:05:00.000Z', state: 'unknown' },
      { at: '2026-01-04T08:10:00.000Z', state: 'operational' },
    ],
    now,
    10,
  );
  const byDay = Object.fromEntries(days.map((d) => [d.day.slice(8), d]));
  assert.deepEqual(byDay['02'].states, ['announcement']);
  assert.deepEqual([byDay['03'].state, byDay['03'].states], ['unknown', ['unknown', 'announcement']]);
  // The day began in announcement (carried over from the 3rd) and passed through every state.
  assert.deepEqual([byDay['04'].state, byDay['04'].states], ['issues', ['issues', 'unknown', 'announcement', 'operational']]);
  assert.deepEqual(byDay['05'].states, ['operational']);
});

test('the same order decides when a telemetry verdict beats the tasks, so the light and the bars agree', () => {
  const telemetry = (state: (typeof WORST_FIRST)[number]) => ({ state, reason: 'nodes', at: now.toISOString() });
  const incident = { id: 1, summary: 'x', type: 'Incident', isClosed: false, openedAt: '2026-01-01T00:00:00.000Z' };
  const tasks = [{ ...incident, closedAt: null, lastEditedAt: incident.openedAt, phases: [] }];
  assert.equal(sectionState({ tasks: [], now, telemetry: telemetry('unknown') }).state, 'unknown');
  assert.equal(sectionState({ tasks: [], now, telemetry: telemetry('announcement') }).state, 'announcement');
  assert.equal(sectionState({ tasks, now, telemetry: telemetry('unknown') }).state, 'issues');
});

test('changes before the window count through the last of them; changes after now do not count yet', () => {
  assert.deepEqual(
    short([
      { at: '2025-11-01T00:00:00.000Z', state: 'issues' },
      { at: '2025-12-20T00:00:00.000Z', state: 'unknown' },
      { at: '2026-01-03T10:00:00.000Z', state: 'operational' },
      { at: '2026-01-10T12:00:00.001Z', state: 'issues' },
    ]),
    ['01:unk', '02:unk', '03:unk', '04:ope', '05:ope', '06:ope', '07:ope', '08:ope', '09:ope', '10:ope'],
  );
});
