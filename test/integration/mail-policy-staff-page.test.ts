// /staff/mail policies without JavaScript: a form per level with "inherit" choices, the effective policy of each address
// with its sources, bad input back on the page, CSRF, and every stored value escaped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeStaffHarness, visibleText } from './staff-harness.ts';

const INHERIT_TEXT = { spamThresholdInherit: '1', subjectPrefixInherit: '1' };

async function loggedIn() {
  const h = makeStaffHarness();
  await h.addUser('sam', 'staff');
  const b = h.browser();
  await b.login('sam');
  assert.equal((await b.post('/staff/mail/domains', { form: 'domain', name: 'example.com', mode: 'active' })).status, 303);
  assert.equal((await b.post('/staff/mail/mailboxes', { form: 'mailbox', address: 'anna@example.com', delivery: 'maildir' })).status, 303);
  assert.equal(
    (await b.post('/staff/mail/aliases', { form: 'alias', address: 'info@example.com', targets: 'anna@example.com' })).status,
    303,
  );
  await b.get('/staff/mail');
  const settings = (key: string) => {
    const raw = h.db.prepare('SELECT settings FROM mail_policies WHERE key = ?').pluck().get(key) as string | undefined;
    return raw === undefined ? undefined : JSON.parse(raw);
  };
  return { h, b, settings };
}

test('a form per level sets, inherits and removes settings; the effective policy shows where each comes from; audited', async () => {
  const { h, b, settings } = await loggedIn();
  let page = await b.get('/staff/mail');
  for (const legend of ['Policy of the installation', 'Policy of example.com', 'Policy of anna@example.com', 'Policy of info@example.com'])
    assert.ok(visibleText(page.text).includes(legend), legend);
  assert.match(page.text, /action="\/staff\/mail\/policies\/address\/anna%40example\.com"/);
  assert.match(visibleText(page.text), /anna@example\.com tag \(default\) rspamd's verdict \(default\)/);

  let r = await b.post('/staff/mail/policies/installation/*', {
    spam: 'remove',
    spamThreshold: ' 7.5 ',
    subjectPrefixInherit: '1',
    virus: '',
    dmarc: '',
  });
  assert.equal(r.status, 303, visibleText(r.text).slice(0, 400));
  assert.equal(r.location, '/staff/mail?done=saved');
  assert.deepEqual(settings('*'), { spam: 'remove', spamThreshold: 7.5 });
  r = await b.post('/staff/mail/policies/domain/example.com', { spam: '', dmarc: 'honour', ...INHERIT_TEXT });
  assert.equal(r.status, 303);
  assert.deepEqual(settings('example.com'), { dmarc: 'honour' });
  // An empty threshold (not inherited) is rspamd's own verdict; an empty prefix is no prefix.
  r = await b.post('/staff/mail/policies/address/anna%40example.com', {
    spam: 'reject',
    virus: 'reject',
    spamThreshold: '',
    subjectPrefix: '',
  });
  assert.equal(r.status, 303);
  assert.deepEqual(settings('anna@example.com'), { spam: 'reject', spamThreshold: null, subjectPrefix: '', virus: 'reject' });

  page = await b.get('/staff/mail');
  const text = visibleText(page.text);
  assert.match(
    text,
    /anna@example\.com reject \(address\) rspamd's verdict \(address\) "" \(address\) reject \(address\) honour \(domain\)/,
  );
  assert.match(
    text,
    /info@example\.com remove \(installation\) 7\.5 \(installation\) "\[SPAM\] " \(default\) remove \(default\) honour \(domain\)/,
  );
  // The stored values come back selected in their level's form.
  assert.match(page.text, /<option value="honour" selected>/);
  assert.match(page.text, /name="spamThreshold" size="6" value="7\.5"/);

  // Everything left to inherit: the level has no settings any more.
  r = await b.post('/staff/mail/policies/domain/example.com', { spam: '', virus: '', dmarc: '', ...INHERIT_TEXT });
  assert.equal(r.status, 303);
  assert.equal(settings('example.com'), undefined);
  const audit = h.db.prepare("SELECT actor, action, target FROM audit_log WHERE action LIKE 'mail.policy.%' ORDER BY id").all() as {
    actor: string;
    action: string;
    target: string;
  }[];
  assert.deepEqual(
    audit.map((a) => `${a.action} ${a.target}`),
    ['mail.policy.set *', 'mail.policy.set example.com', 'mail.policy.set anna@example.com', 'mail.policy.remove example.com'],
  );
  assert.ok(audit.every((a) => a.actor === 'sam'));
});

test('bad input comes back on the page naming the setting; an unhosted level is refused; nothing is written', async () => {
  const { h, b } = await loggedIn();
  const before = h.db.prepare('SELECT count(*) FROM mail_config_changes').pluck().get();
  let r = await b.post('/staff/mail/policies/domain/example.com', { spam: 'bounce', ...INHERIT_TEXT });
  assert.equal(r.status, 400);
  assert.match(visibleText(r.text), /Spam ?:/);
  r = await b.post('/staff/mail/policies/domain/example.com', { spamThreshold: 'high', subjectPrefixInherit: '1' });
  assert.equal(r.status, 400);
  assert.match(visibleText(r.text), /Spam threshold ?:/);
  r = await b.post('/staff/mail/policies/domain/example.com', { spamThresholdInherit: '1', subjectPrefix: 'x'.repeat(65) });
  assert.equal(r.status, 400);
  assert.match(visibleText(r.text), /Subject prefix ?:/);
  r = await b.post('/staff/mail/policies/everyone/example.com', { spam: 'tag', ...INHERIT_TEXT });
  assert.equal(r.status, 400);
  assert.match(visibleText(r.text), /Policy level ?:/);
  r = await b.post('/staff/mail/policies/address/ghost%40example.com', { spam: 'tag', ...INHERIT_TEXT });
  assert.equal(r.status, 404);
  assert.match(visibleText(r.text), /no mailbox or alias ghost@example\.com/);
  assert.equal(h.db.prepare('SELECT count(*) FROM mail_config_changes').pluck().get(), before);
});

test('stored and typed values are escaped on the page', async () => {
  const { b } = await loggedIn();
  const evil = '<script>alert("x")</script>&';
  const r = await b.post('/staff/mail/policies/address/info%40example.com', {
    spam: 'tag',
    spamThresholdInherit: '1',
    subjectPrefix: evil,
  });
  assert.equal(r.status, 303);
  const page = await b.get('/staff/mail');
  assert.doesNotMatch(page.text, /<script>alert/);
  assert.match(page.text, /value="&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;&amp;"/);
  assert.ok(visibleText(page.text).includes(`"${evil}" (address)`));
});

test('logged out: no page and no write; without the CSRF token: no write', async () => {
  const { h, b } = await loggedIn();
  const anon = h.browser();
  const r = await anon.post('/staff/mail/policies/installation/*', { spam: 'reject', ...INHERIT_TEXT }, { csrf: false });
  assert.notEqual(r.status, 303);
  const forged = await b.post('/staff/mail/policies/installation/*', { spam: 'reject', ...INHERIT_TEXT }, { csrf: 'wrong' });
  assert.equal(forged.status, 403);
  const missing = await b.post('/staff/mail/policies/installation/*', { spam: 'reject', ...INHERIT_TEXT }, { csrf: false });
  assert.equal(missing.status, 403);
  assert.equal(h.db.prepare('SELECT count(*) FROM mail_policies').pluck().get(), 0);
});
