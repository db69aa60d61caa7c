// /staff/mail without JavaScript: add and remove domains, mailboxes and aliases, switch a domain's mode; errors shown on the page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeStaffHarness, visibleText } from './staff-harness.ts';

async function loggedIn() {
  const h = makeStaffHarness();
  await h.addUser('sam', 'staff');
  const b = h.browser();
  await b.login('sam');
  return { h, b };
}

test('staff manage the mail configuration through forms, each change audited', async () => {
  const { h, b } = await loggedIn();
  let r = await b.get('/staff/mail');
  assert.equal(r.status, 200);
  assert.match(r.text, /href="\/staff\/mail"/, 'the navigation links the page');

  r = await b.post('/staff/mail/domains', { form: 'domain', name: 'Example.com', mode: 'active' });
  assert.equal(r.status, 303);
  assert.equal(r.location, '/staff/mail?done=added');
  r = await b.post('/staff/mail/mailboxes', { form: 'mailbox', address: 'anna@example.com', delivery: 'maildir' });
  assert.equal(r.status, 303);
  r = await b.post('/staff/mail/mailboxes', {
    form: 'mailbox',
    address: 'bob@example.com',
    delivery: 'lmtp',
    lmtpHost: '127.0.0.1',
    lmtpPort: '24',
  });
  assert.equal(r.status, 303);
  r = await b.post('/staff/mail/aliases', {
    form: 'alias',
    address: 'info@example.com',
    targets: 'anna@example.com\r\nfriend@provider.test',
  });
  assert.equal(r.status, 303);
  r = await b.post('/staff/mail/domains/example.com', { mode: 'shadow', legacyHost: 'mx.old.test', legacyPort: '25', catchAll: '' });
  assert.equal(r.status, 303, r.text.slice(0, 500));

  const text = visibleText((await b.get('/staff/mail')).text);
  assert.match(text, /anna@example\.com built-in Maildir/);
  assert.match(text, /bob@example\.com LMTP 127\.0\.0\.1:24/);
  assert.match(text, /info@example\.com anna@example\.com, friend@provider\.test no/);
  const domain = h.db.prepare("SELECT mode, legacy_host FROM mail_domains WHERE name = 'example.com'").get();
  assert.deepEqual(domain, { mode: 'shadow', legacy_host: 'mx.old.test' });

  assert.equal((await b.post('/staff/mail/aliases/info@example.com/remove', {})).status, 303);
  assert.equal((await b.post('/staff/mail/domains/example.com/remove', {})).status, 303);
  assert.doesNotMatch(visibleText((await b.get('/staff/mail')).text), /anna@example\.com/);
  const audit = h.db.prepare("SELECT actor, action FROM audit_log WHERE action LIKE 'mail.%' ORDER BY id").all() as {
    actor: string;
    action: string;
  }[];
  assert.deepEqual(
    audit.map((a) => a.action),
    [
      'mail.domain.add',
      'mail.mailbox.add',
      'mail.mailbox.add',
      'mail.alias.add',
      'mail.domain.update',
      'mail.alias.remove',
      'mail.mailbox.remove',
      'mail.mailbox.remove',
      'mail.domain.remove',
    ],
  );
  assert.ok(audit.every((a) => a.actor === 'sam'));
});

test('bad input comes back on the page with the typed values; nothing is written', async () => {
  const { h, b } = await loggedIn();
  let r = await b.post('/staff/mail/domains', { form: 'domain', name: 'not a domain', mode: 'active' });
  assert.equal(r.status, 400);
  assert.match(visibleText(r.text), /Domain ?: must be a domain name/);
  assert.match(r.text, /id="d-name" name="name" required value="not a domain"/);
  r = await b.post('/staff/mail/domains', { form: 'domain', name: 'x.test', mode: 'legacy' });
  assert.equal(r.status, 400);
  assert.match(visibleText(r.text), /Legacy host ?: legacy and shadow modes need a legacyHost/);
  r = await b.post('/staff/mail/mailboxes', { form: 'mailbox', address: 'a@unhosted.test', delivery: 'maildir' });
  assert.equal(r.status, 400);
  assert.match(visibleText(r.text), /unhosted\.test is not hosted/);
  r = await b.post('/staff/mail/aliases', { form: 'alias', address: '<script>@x.test', targets: '' });
  assert.equal(r.status, 400);
  assert.doesNotMatch(r.text, /<script>@/, 'typed values are escaped');
  assert.equal((h.db.prepare('SELECT count(*) AS n FROM mail_config_changes').get() as { n: number }).n, 0);
});

test('logged out: no page; without the CSRF token: no write', async () => {
  const h = makeStaffHarness();
  const anon = h.browser();
  const r = await anon.get('/staff/mail');
  assert.notEqual(r.status, 200);
  await h.addUser('sam', 'staff');
  const b = h.browser();
  await b.login('sam');
  const forged = await b.post('/staff/mail/domains', { form: 'domain', name: 'x.test', mode: 'active' }, { csrf: 'wrong' });
  assert.equal(forged.status, 403);
  assert.equal((h.db.prepare('SELECT count(*) AS n FROM mail_domains').get() as { n: number }).n, 0);
});
