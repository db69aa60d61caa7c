// /staff/webhooks without JavaScript: add (the secret on the answer page once), refuse bad URLs on the page, disable,
// enable and remove with CSRF-checked forms, and everything typed shown escaped, the delivery log included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeStaffHarness, visibleText } from './staff-harness.ts';

test('staff add, disable, enable and remove webhooks on /staff/webhooks; the secret shows once, the URL escaped', async () => {
  const h = makeStaffHarness();
  await h.addUser('alice');
  const b = h.browser();
  await b.login('alice');
  const empty = await b.get('/staff/webhooks');
  assert.equal(empty.status, 200);
  assert.match(visibleText(empty.text), /No webhooks yet\./);
  assert.match(empty.text, /<a href="\/staff\/webhooks">Webhooks<\/a>/, 'linked from the navigation');

  // Refused without the form's CSRF token, and nothing stored.
  const forged = await b.post('/staff/webhooks', { url: 'https://hooks.example.net/x' }, { csrf: false });
  assert.equal(forged.status, 403);
  const count = () => (h.db.prepare('SELECT count(*) AS n FROM webhook_endpoints').get() as { n: number }).n;
  assert.equal(count(), 0);

  // A loopback URL is refused on the page (the setting is off), with what was typed kept in the field.
  const refused = await b.post('/staff/webhooks', { url: 'http://127.0.0.1:8080/x', section: '', description: 'mine' });
  assert.equal(refused.status, 400);
  assert.match(visibleText(refused.text), /Webhooks may not be sent to 127\.0\.0\.1 \(loopback\)/);
  assert.match(refused.text, /value="http:\/\/127\.0\.0\.1:8080\/x"/);
  const notHttp = await b.post('/staff/webhooks', { url: 'javascript:alert(1)', section: '' });
  assert.equal(notHttp.status, 400);
  assert.match(visibleText(notHttp.text), /URL : must be an http:\/\/ or https:\/\/ URL/);
  assert.equal(count(), 0);

  const url = 'https://hooks.example.net/in?tag=<script>alert(1)</script>';
  const added = await b.post('/staff/webhooks', { url, section: 'email', description: '<b>ops</b> & co' });
  assert.equal(added.status, 201);
  const secret = /<code>(whsec_[A-Za-z0-9+/=]+)<\/code>/.exec(added.text)?.[1];
  assert.ok(secret, 'the secret is on the answer page');
  assert.ok(!added.text.includes('<script>alert(1)</script>') && !added.text.includes('<b>ops</b>'), 'escaped');
  assert.ok(added.text.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  const stored = h.db.prepare('SELECT id, secret, section_id FROM webhook_endpoints').get() as {
    id: number;
    secret: string;
    section_id: number;
  };
  assert.equal(stored.secret, secret);
  const later = await b.get('/staff/webhooks');
  assert.ok(!later.text.includes(secret.slice(6)), 'and never again');
  assert.match(visibleText(later.text), /Email/);

  const disabled = await b.post(`/staff/webhooks/${stored.id}/disable`, {});
  assert.equal(disabled.status, 303);
  const afterDisable = await b.get(disabled.location!);
  assert.match(visibleText(afterDisable.text), /Webhook disabled: nothing is sent to it until it is enabled\./);
  assert.match(visibleText(afterDisable.text), /disabled .* disabled by alice \(display\)|disabled .*: disabled by alice/);
  assert.equal((await b.post(`/staff/webhooks/${stored.id}/enable`, {})).status, 303);
  assert.equal((h.db.prepare('SELECT disabled_at FROM webhook_endpoints').get() as { disabled_at: string | null }).disabled_at, null);
  assert.equal((await b.post(`/staff/webhooks/${stored.id}/remove`, {}, { csrf: false })).status, 403);
  assert.equal(count(), 1);
  const removed = await b.post(`/staff/webhooks/${stored.id}/remove`, {});
  assert.equal(removed.status, 303);
  assert.equal(count(), 0);
  const gone = await b.post(`/staff/webhooks/${stored.id}/remove`, {});
  assert.equal(gone.status, 404);
  assert.match(visibleText(gone.text), new RegExp(`There is no webhook ${stored.id}\\.`));
  const audit = h.db.prepare(`SELECT action FROM audit_log WHERE action LIKE 'webhook.%' ORDER BY id`).all() as { action: string }[];
  assert.deepEqual(
    audit.map((a) => a.action),
    ['webhook.add', 'webhook.disable', 'webhook.enable', 'webhook.remove'],
  );
});
