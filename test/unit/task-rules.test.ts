// Pure task and list rules: field diffs for history, forward-only edit times, category paths and loops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffFields, laterInstant, isInFuture, describePhases, PERCENT_WHEN_CLOSED } from '#server/domain/task-rules.ts';
import { categoryPath, wouldCreateCycle } from '#server/domain/lists.ts';

test('diffFields yields one change per differing field, ignoring equal and unknown ones', () => {
  const changes = diffFields(
    { summary: 'a', percent: '10', type: 'Upgrade', section: null },
    { summary: 'b', percent: '10', type: 'Incident', section: 'Email', bogus: 'x' },
  );
  assert.deepEqual(changes, [
    { field: 'summary', oldValue: 'a', newValue: 'b' },
    { field: 'type', oldValue: 'Upgrade', newValue: 'Incident' },
    { field: 'section', oldValue: null, newValue: 'Email' },
  ]);
  assert.deepEqual(diffFields({ a: 'x' }, { a: 'x' }), []);
});

test('closing completes a task, edit times only move forward, the future is refused', () => {
  assert.equal(PERCENT_WHEN_CLOSED, 100);
  assert.equal(laterInstant('2021-11-10T16:09:00.000Z', '2021-10-12T10:40:00.000Z'), '2021-11-10T16:09:00.000Z');
  assert.equal(laterInstant('2021-10-12T10:40:00.000Z', '2021-11-10T16:09:00.000Z'), '2021-11-10T16:09:00.000Z');
  const now = new Date('2026-01-01T00:00:00.000Z');
  assert.equal(isInFuture('2026-01-01T00:00:30.000Z', now), false, 'small skew is tolerated');
  assert.equal(isInFuture('2026-01-01T01:00:00.000Z', now), true);
  assert.equal(isInFuture('2021-10-12T10:40:00.000Z', now), false);
});

test('describePhases is one legible line per phase with open ends', () => {
  assert.equal(
    describePhases([
      { title: 'dev', startsAt: null, endsAt: '2021-10-12T23:59:59.999Z', note: '' },
      { title: 'run', startsAt: '2021-10-13T00:00:00.000Z', endsAt: null, note: 'parallel' },
    ]),
    'dev: … – 2021-10-12T23:59:59.999Z\nrun: 2021-10-13T00:00:00.000Z – … (parallel)',
  );
  assert.equal(describePhases([]), '');
});

test('category paths and loop detection', () => {
  const tree = new Map<number, { parentId: number | null; name: string }>([
    [1, { parentId: null, name: 'All Services' }],
    [2, { parentId: 1, name: 'Email' }],
    [3, { parentId: 2, name: 'Inbound' }],
  ]);
  assert.deepEqual(categoryPath(3, tree), ['All Services', 'Email', 'Inbound']);
  assert.deepEqual(categoryPath(99, tree), []);
  assert.equal(wouldCreateCycle(1, 3, tree), true, 'root below its grandchild');
  assert.equal(wouldCreateCycle(2, 2, tree), true, 'itself as parent');
  assert.equal(wouldCreateCycle(3, 1, tree), false);
  assert.equal(wouldCreateCycle(2, null, tree), false);
  tree.set(1, { parentId: 3, name: 'All Services' });
  assert.deepEqual(categoryPath(3, tree), ['All Services', 'Email', 'Inbound'], 'a corrupt loop does not hang');
});
