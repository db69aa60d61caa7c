// Deployment-plan rules: phase states, crossed transitions and the status the task follows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { phaseState, planState, crossedTransitions, isNews, statusAfterTransition, transitionComment } from '#server/domain/plan.ts';
import { renderMarkdown } from '#server/domain/markdown.ts';
import { FS2733 } from '#data/seed/fs2733.ts';

const phases = FS2733.phases.map((p, i) => ({ id: i + 1, ...p }));
const at = (iso: string) => new Date(iso);

test('FS#2733 phases through time', () => {
  assert.deepEqual(
    phases.map((p) => phaseState(p, at('2021-10-10T00:00:00Z'))),
    ['running', 'upcoming', 'upcoming'],
  );
  // The end is inclusive: on the last millisecond of the 12th the phase still runs.
  assert.equal(phaseState(phases[0], at('2021-10-12T23:59:59.999Z')), 'running');
  assert.deepEqual(
    phases.map((p) => phaseState(p, at('2021-10-13T00:00:00Z'))),
    ['done', 'running', 'upcoming'],
  );
  assert.deepEqual(
    phases.map((p) => phaseState(p, at('2021-10-21T12:00:00Z'))),
    ['done', 'done', 'running'],
  );
  assert.deepEqual(
    phases.map((p) => phaseState(p, at('2021-11-10T16:09:00Z'))),
    ['done', 'done', 'done'],
  );
  assert.equal(planState(phases, at('2021-10-01T00:00:00Z')), 'running'); // open start: under way from the beginning
  assert.equal(planState(phases.slice(1), at('2021-10-01T00:00:00Z')), 'upcoming');
  assert.equal(planState(phases, at('2021-11-10T16:09:00Z')), 'done');
  assert.equal(planState([], at('2021-11-10T16:09:00Z')), 'empty');
  assert.equal(phaseState({ title: 'x', startsAt: null, endsAt: null }, at('2030-01-01T00:00:00Z')), 'running');
});

test('crossed transitions are the dated boundaries passed, oldest first, an end before a start at one instant', () => {
  assert.deepEqual(crossedTransitions(phases, at('2021-10-12T00:00:00Z')), []);
  const t = crossedTransitions(phases, at('2021-10-13T00:00:00Z'));
  assert.deepEqual(
    t.map((x) => `${x.phaseTitle}:${x.kind}`),
    ['development and test:ended', 'deployment and parallel service new/old:started'],
  );
  const back2back = [
    { id: 1, title: 'a', startsAt: '2030-01-01T10:00:00.000Z', endsAt: '2030-01-01T11:00:00.000Z' },
    { id: 2, title: 'b', startsAt: '2030-01-01T11:00:00.000Z', endsAt: null },
  ];
  assert.deepEqual(
    crossedTransitions(back2back, at('2030-01-01T11:00:00.001Z')).map((x) => `${x.phaseTitle}:${x.kind}`),
    ['a:started', 'a:ended', 'b:started'],
  );
  assert.equal(crossedTransitions(phases, at('2021-11-01T00:00:00Z')).length, 5);
});

test('a transition is news only within the catch-up window', () => {
  const tr = { phaseId: 1, phaseTitle: 'x', kind: 'started' as const, at: '2030-01-01T10:00:00.000Z' };
  assert.equal(isNews(tr, at('2030-01-01T10:00:30Z'), 3_600_000), true);
  assert.equal(isNews(tr, at('2030-01-01T11:00:00Z'), 3_600_000), true);
  assert.equal(isNews(tr, at('2030-01-01T11:00:01Z'), 3_600_000), false);
});

test('status follows the plan only from the statuses the plan owns', () => {
  assert.equal(statusAfterTransition('Planned', 'running'), 'In progress');
  assert.equal(statusAfterTransition('New', 'running'), 'In progress');
  assert.equal(statusAfterTransition('In progress', 'running'), null);
  assert.equal(statusAfterTransition('Waiting', 'running'), null);
  assert.equal(statusAfterTransition('In progress', 'done'), 'Monitoring');
  assert.equal(statusAfterTransition('Waiting', 'done'), null);
});

test('the automatic comment shows titles literally and renders safely', () => {
  const text = transitionComment(
    [{ phaseId: 1, phaseTitle: '*bold* <script>alert(1)</script>', kind: 'started', at: '2030-01-01T00:00:00Z' }],
    'done',
  );
  const html = renderMarkdown(text);
  assert.match(html, /Phase "\*bold\* &lt;script&gt;alert\(1\)&lt;\/script&gt;" has started\./);
  assert.match(html, /All phases of the deployment plan are done\./);
  assert.doesNotMatch(html, /<script|<strong>/);
});
