// An override set on the staff page shows on the public page and in status.json with its note, and goes away at its expiry.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { ensureSiteBuilt } from '#server/site/build.ts';
import { makeStaffHarness, visibleText } from './staff-harness.ts';

before(async () => {
  await ensureSiteBuilt({ info: () => {} });
});

type StatusJson = { sections: { slug: string; state: string; reason: string }[] };

test('override: public state and note while in force, the automatic state after it expires', async () => {
  const h = makeStaffHarness({ start: '2026-07-01T10:00:00.000Z' });
  await h.addUser('bob', 'staff');
  const b = h.browser();
  await b.login('bob');
  const email = async () => {
    const json = (await (await h.app.request('/status.json')).json()) as StatusJson;
    return json.sections.find((s) => s.slug === 'email')!;
  };
  assert.equal((await email()).state, 'operational');
  const r = await b.post('/staff/overrides/email', {
    state: 'issues',
    note: 'Mail to one large provider is delayed',
    expiresAt: '2026-07-01T11:30',
  });
  assert.equal(r.status, 303);
  assert.deepEqual(await email(), { ...(await email()), state: 'issues', reason: 'Mail to one large provider is delayed' });
  const home = visibleText(await (await h.app.request('/')).text());
  assert.match(home, /Mail to one large provider is delayed/);
  assert.match(home, /active issues or failures/);

  h.advance(90 * 60_000 - 1);
  assert.equal((await email()).state, 'issues', 'still in force a millisecond before the expiry');
  h.advance(1);
  assert.equal((await email()).state, 'operational', 'over at the expiry with nobody touching it');
  assert.doesNotMatch(visibleText(await (await h.app.request('/')).text()), /Mail to one large provider is delayed/);
});
