// Service refusals map to problem details in one place: each kind keeps the status, title, message and fields the API answered with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Conflict, DomainError, Forbidden, Invalid, NotFound, Unprocessable } from '#server/domain/errors.ts';
import { Problem, problemOf, problemResponse } from '#server/http/problem.ts';
import { Hono } from 'hono';

test('each domain error answers with its HTTP status, title, message and field errors', () => {
  const cases: [DomainError, number, string][] = [
    [new NotFound('FS#7 does not exist.'), 404, 'Not Found'],
    [new Conflict('The username "alice" is taken.'), 409, 'Conflict'],
    [new Invalid('A comment cannot be dated in the future.', [{ field: 'at', message: 'must not be in the future' }]), 400, 'Bad Request'],
    [new Forbidden('Only admins may redact task history.'), 403, 'Forbidden'],
    [
      new Unprocessable('Event seq 7 is dated in the future.', [{ field: 'events', message: 'seq 7 is in the future' }]),
      422,
      'Unprocessable Content',
    ],
  ];
  for (const [err, status, title] of cases) {
    const p = problemOf(err);
    assert.ok(p instanceof Problem, err.name);
    assert.deepEqual(
      { status: p.status, title: p.title, detail: p.detail, errors: p.errors },
      { status, title, detail: err.message, errors: err.errors },
    );
  }
});

test('an edge Problem passes through; a bug or a plain DomainError is no problem (the edge answers 500 and logs it)', () => {
  const edge = new Problem(429, 'Too Many Requests', 'slow down');
  assert.equal(problemOf(edge), edge);
  assert.equal(problemOf(new Error('SQLITE_BUSY')), null);
  assert.equal(problemOf(new DomainError('a refusal of no known kind')), null);
  assert.equal(problemOf('thrown string'), null);
});

test("a refusal's extension members reach the problem body next to the standard members, never replacing them", async () => {
  const app = new Hono();
  app.get('/', (c) => problemResponse(c, problemOf(new Conflict('Resend from 5.', [], { cursor: 5, status: 200, detail: 'no' }))!));
  const body = await (await app.request('/')).json();
  assert.deepEqual(body, { cursor: 5, type: 'about:blank', status: 409, title: 'Conflict', detail: 'Resend from 5.' });
});
