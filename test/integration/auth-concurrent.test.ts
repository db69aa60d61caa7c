// The login limit holds for guesses sent all at once (each attempt is counted before its password is hashed),
// and the password-change form shares it, so a stolen session cannot be used to guess the password either.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeHarness, json } from './api-harness.ts';
import { recentAudit } from '#server/store/audit.ts';
import { LOGIN_LIMITS } from '#server/http/ratelimit.ts';

type Harness = ReturnType<typeof makeHarness>;

const login = (h: Harness, username: string, password: string, ip: string) =>
  h.request('POST', '/api/v1/auth/login', { body: { username, password }, ip });

/** How many answers had each status, e.g. { 401: 5, 429: 35 }. */
function tally(responses: Response[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const r of responses) out[r.status] = (out[r.status] ?? 0) + 1;
  return out;
}

test('40 guesses at once for one account: 5 are checked (401), the other 35 get 429; the right password too, until the window passes', async () => {
  const h = makeHarness();
  await h.addUser('alice', 'admin');
  // Different addresses, so only the account limit is in play.
  const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => login(h, 'alice', `guess ${i}`, `198.51.100.${i + 1}`)));
  assert.deepEqual(tally(answers), { 401: LOGIN_LIMITS.perAccount, 429: 40 - LOGIN_LIMITS.perAccount });
  for (const r of answers.filter((a) => a.status === 429)) {
    const retry = Number(r.headers.get('retry-after'));
    assert.ok(retry > 0 && retry <= 900, `Retry-After ${retry}`);
  }
  assert.equal(recentAudit(h.db, 100).filter((a) => a.action === 'login.failed').length, LOGIN_LIMITS.perAccount);

  const right = await login(h, 'alice', 'correct horse battery', '203.0.113.5');
  assert.equal(right.status, 429, 'the right password is refused while the account is locked');
  assert.equal(right.headers.get('set-cookie'), null);
  h.advance(LOGIN_LIMITS.windowMs - 60_000);
  assert.equal((await login(h, 'alice', 'correct horse battery', '203.0.113.5')).status, 429, 'still inside the window');
  h.advance(61_000);
  assert.equal((await login(h, 'alice', 'correct horse battery', '203.0.113.5')).status, 200, 'the window has passed');
});

test('40 guesses at once from one address for 40 accounts: 20 are checked, the other 20 get 429', async () => {
  const h = makeHarness();
  await h.addUser('alice', 'admin');
  const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => login(h, `user${i}`, 'spray password', '203.0.113.66')));
  assert.deepEqual(tally(answers), { 401: LOGIN_LIMITS.perIp, 429: 40 - LOGIN_LIMITS.perIp });
  assert.equal((await login(h, 'alice', 'correct horse battery', '203.0.113.66')).status, 429, 'the address is locked for every account');
  assert.equal((await login(h, 'alice', 'correct horse battery', '203.0.113.67')).status, 200, 'other addresses are not');
});

test('logins that succeed at the same time hold no slot afterwards: a success releases its own reservation', async () => {
  const h = makeHarness();
  await h.addUser('alice', 'admin');
  const answers = await Promise.all(
    Array.from({ length: LOGIN_LIMITS.perAccount }, () => login(h, 'alice', 'correct horse battery', '192.0.2.50')),
  );
  assert.deepEqual(tally(answers), { 200: LOGIN_LIMITS.perAccount });
  assert.equal((h.db.prepare('SELECT count(*) AS n FROM login_failures').get() as { n: number }).n, 0, 'nothing left counted');
  // The account still has its full allowance of failures.
  for (let i = 0; i < LOGIN_LIMITS.perAccount - 1; i++) assert.equal((await login(h, 'alice', `typo ${i}`, '192.0.2.50')).status, 401);
  assert.equal((await login(h, 'alice', 'correct horse battery', '192.0.2.50')).status, 200);
});

test('password change with a stolen session: 30 wrong current passwords at once get 5 × 403 then 429; the right one is refused while locked', async () => {
  const h = makeHarness();
  await h.addUser('sam', 'staff');
  const stolen = await h.login('sam', undefined, { ip: '192.0.2.77' });
  const change = (currentPassword: string, ip = '203.0.113.20') =>
    h.request('POST', '/api/v1/auth/password', { session: stolen, ip, body: { currentPassword, newPassword: 'the attackers passphrase' } });
  const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => change(`guess ${i}`)));
  assert.deepEqual(tally(answers), { 403: LOGIN_LIMITS.perAccount, 429: 30 - LOGIN_LIMITS.perAccount });
  const limited = answers.find((a) => a.status === 429)!;
  assert.equal(limited.headers.get('content-type'), 'application/problem+json');
  assert.ok(Number(limited.headers.get('retry-after')) > 0);
  assert.match((await json<{ detail: string }>(limited)).detail, /try again in \d+ seconds/);

  const right = await change('correct horse battery');
  assert.equal(right.status, 429, 'the right current password does not help while the account is locked');
  assert.equal((await login(h, 'sam', 'correct horse battery', '203.0.113.21')).status, 429, 'and the same lock holds for login');
  assert.ok(recentAudit(h.db, 100).some((a) => a.action === 'password.change-limited' && a.actor === 'sam'));

  h.advance(LOGIN_LIMITS.windowMs + 1000);
  assert.equal((await change('correct horse battery')).status, 204, 'after the window the owner can change it');
});

test('password change: the per-address limit applies too', async () => {
  const h = makeHarness();
  await h.addUser('sam', 'staff');
  for (let i = 0; i < LOGIN_LIMITS.perIp; i++) await login(h, `user${i}`, 'spray password', '203.0.113.30');
  const s = await h.login('sam', undefined, { ip: '192.0.2.1' });
  const res = await h.request('POST', '/api/v1/auth/password', {
    session: s,
    ip: '203.0.113.30',
    body: { currentPassword: 'correct horse battery', newPassword: 'a brand new passphrase' },
  });
  assert.equal(res.status, 429);
});
