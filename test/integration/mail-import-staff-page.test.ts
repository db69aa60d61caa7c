// /staff/mail/import without JavaScript: Preview shows the diff and writes nothing, Import applies it once; bad lines come
// back as a 400 page naming each file:line with nothing written; file content is escaped; CSRF required.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DB } from '#data/db.ts';
import { makeStaffHarness, visibleText } from './staff-harness.ts';

const count = (db: DB) =>
  ['mail_domains', 'mail_mailboxes', 'mail_aliases', 'mail_policies', 'mail_config_changes', 'audit_log'].map(
    (t) => (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n,
  );

const CSV = [
  'domain,address,type,targets,spam_policy,virus_policy',
  'example.com,anna@example.com,mailbox,,reject,',
  'example.com,info@example.com,alias,anna@example.com friend@provider.test,,',
].join('\r\n');

test('staff preview the import, then import it; a second import changes nothing', async () => {
  const h = makeStaffHarness();
  await h.addUser('sam', 'staff');
  const b = h.browser();
  await b.login('sam');
  let r = await b.get('/staff/mail');
  assert.match(r.text, /href="\/staff\/mail\/import"/);
  r = await b.get('/staff/mail/import');
  assert.equal(r.status, 200);

  const before = count(h.db);
  r = await b.post('/staff/mail/import', { csv: CSV, newDomainMode: 'active', legacyHost: '', legacyPort: '', action: 'preview' });
  assert.equal(r.status, 200, visibleText(r.text).slice(0, 500));
  assert.deepEqual(count(h.db), before, 'a preview writes nothing');
  const text = visibleText(r.text);
  assert.match(text, /Preview: what the import would change/);
  assert.match(text, /\+ alias info@example\.com: → anna@example\.com, friend@provider\.test \(csv:3\)/);
  assert.match(text, /mailboxes: 1 to create, 0 to update, 0 unchanged/);
  assert.match(r.text, /<textarea id="imp-csv" name="csv" rows="8">domain,address,type/, 'the pasted file comes back');

  r = await b.post('/staff/mail/import', { csv: CSV, newDomainMode: 'active', action: 'import' });
  assert.equal(r.status, 200);
  assert.match(visibleText(r.text), /Imported: 4 record\(s\) created or updated/);
  const after = count(h.db);
  assert.equal(after[4] - before[4], 4);
  const audit = h.db.prepare("SELECT actor FROM audit_log WHERE action = 'mail.import'").all() as { actor: string }[];
  assert.deepEqual(audit, [{ actor: 'sam' }]);

  r = await b.post('/staff/mail/import', { csv: CSV, newDomainMode: 'active', action: 'import' });
  assert.match(visibleText(r.text), /Nothing to change/);
  assert.deepEqual(count(h.db), after);
});

test('bad lines: a 400 page naming each, nothing written, the file content escaped; CSRF required', async () => {
  const h = makeStaffHarness();
  await h.addUser('sam', 'staff');
  const b = h.browser();
  await b.login('sam');
  await b.get('/staff/mail/import');
  const before = count(h.db);
  const aliases =
    'info@example.com anna@example.com\n<script>alert(1)</script>@x.test y@z.test\n@example.com anna@example.com bob@example.com\n';
  let r = await b.post('/staff/mail/import', {
    postfixDomains: 'example.com\n',
    postfixMailboxes: 'anna@example.com example.com/anna/\n',
    postfixAliases: aliases,
    newDomainMode: 'active',
    action: 'import',
  });
  assert.equal(r.status, 400);
  assert.ok(!r.text.includes('<script>alert(1)'), 'untrusted file content is escaped');
  assert.match(r.text, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  const text = visibleText(r.text);
  assert.match(text, /2 bad line\(s\); nothing was imported\./);
  assert.match(text, /virtual_alias_maps:2 ?: the address "<script>alert\(1\)<\/script>@x\.test"/);
  assert.match(text, /virtual_alias_maps:3 ?: @example\.com: the catch-all target "anna@example\.com bob@example\.com" must be/);
  assert.deepEqual(count(h.db), before);

  r = await b.post('/staff/mail/import', { csv: CSV, postfixDomains: 'example.com', action: 'preview' });
  assert.equal(r.status, 400);
  assert.match(visibleText(r.text), /paste either the CSV or the Postfix files/);

  r = await b.post('/staff/mail/import', { csv: CSV, newDomainMode: 'active', action: 'import' }, { csrf: false });
  assert.equal(r.status, 403);
  assert.deepEqual(count(h.db), before);
});
