// `npm run cli -- mail policy ...`: set, list, show with sources, remove; refusals; audited as the CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mailCliInProcess } from '../support/cli-in-process.ts';

test('mail policy set, list, show (with where each setting comes from), remove; audited as the CLI', async () => {
  const { db, run } = mailCliInProcess();
  await run('domain', 'add', 'example.com');
  await run('mailbox', 'add', 'anna@example.com');

  let r = await run('policy', 'show', 'Anna@example.com');
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /^SETTING\s+VALUE\s+FROM\nspam\s+tag\s+default\nspamThreshold\s+rspamd\s+default\nsubjectPrefix\s+"\[SPAM\] "\s+default\n/,
  );

  r = await run('policy', 'set', 'installation', '--spam', 'remove', '--spam-threshold', '7.5');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Set the installation policy of the installation: spam=remove spamThreshold=7.5.\n');
  r = await run('policy', 'set', 'Example.COM', '--dmarc', 'honour', '--subject-prefix', '[junk] ');
  assert.equal(r.code, 0, r.stderr);
  r = await run('policy', 'set', 'anna@example.com', '--spam', 'reject', '--virus', 'reject', '--spam-threshold', 'rspamd');
  assert.equal(r.code, 0, r.stderr);

  r = await run('policy', 'list');
  assert.match(
    r.stdout,
    /^LEVEL\s+KEY\s+SETTINGS\ninstallation\s+installation\s+spam=remove spamThreshold=7\.5\ndomain\s+example\.com\s+subjectPrefix="\[junk\] " dmarc=honour\naddress\s+anna@example\.com\s+spam=reject spamThreshold=rspamd virus=reject\n$/,
  );
  r = await run('policy', 'show', 'anna@example.com');
  assert.match(
    r.stdout,
    /\nspam\s+reject\s+address\nspamThreshold\s+rspamd\s+address\nsubjectPrefix\s+"\[junk\] "\s+domain\nvirus\s+reject\s+address\ndmarc\s+honour\s+domain\n$/,
  );

  r = await run('policy', 'remove', 'anna@example.com');
  assert.equal(r.code, 0, r.stderr);
  r = await run('policy', 'set', 'example.com');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /example\.com now inherits every setting/);
  r = await run('policy', 'show', 'anna@example.com');
  assert.match(r.stdout, /\nspam\s+remove\s+installation\nspamThreshold\s+7\.5\s+installation\nsubjectPrefix\s+"\[SPAM\] "\s+default\n/);

  const audit = db.prepare("SELECT actor, action FROM audit_log WHERE action LIKE 'mail.policy.%' ORDER BY id").all() as {
    actor: string;
    action: string;
  }[];
  assert.deepEqual(
    audit.map((a) => a.action),
    ['mail.policy.set', 'mail.policy.set', 'mail.policy.set', 'mail.policy.remove', 'mail.policy.remove'],
  );
  assert.ok(audit.every((a) => a.actor === 'cli'));
});

test("mail policy refusals: exit codes and the service's words, nothing written", async () => {
  const { db, run } = mailCliInProcess();
  await run('domain', 'add', 'example.com');
  const before = (db.prepare('SELECT count(*) AS n FROM mail_config_changes').get() as { n: number }).n;
  let r = await run('policy', 'set', 'example.com', '--spam', 'bounce');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: The policy settings are not valid\. \(spam: /);
  r = await run('policy', 'set', 'example.com', '--spam-threshold', 'high');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--spam-threshold/);
  r = await run('policy', 'set', 'ghost@example.com', '--spam', 'reject');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /There is no mailbox or alias ghost@example\.com/);
  r = await run('policy', 'set', 'unhosted.test', '--spam', 'reject');
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'error: The domain unhosted.test is not hosted.\n');
  r = await run('policy', 'remove', 'installation');
  assert.equal(r.code, 1);
  r = await run('policy', 'show', 'ghost@example.com');
  assert.equal(r.code, 1);
  r = await run('policy', 'set');
  assert.equal(r.code, 2);
  r = await run('policy', 'set', 'example.com', '--colour', 'red');
  assert.equal(r.code, 2);
  r = await run('--help');
  assert.match(r.stdout, /mail policy set <installation\|DOMAIN\|ADDRESS>/);
  assert.equal((db.prepare('SELECT count(*) AS n FROM mail_config_changes').get() as { n: number }).n, before);
});
