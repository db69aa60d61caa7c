// `npm run cli -- mail import ...`: a generated Postfix map set with 1,000 addresses → an exact diff, an apply that
// matches it (change log and audit as for manual edits), a second run that changes nothing; broken lines import nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DB } from '#data/db.ts';
import { listAliases, listMailboxes, listDomains, findAlias } from '#server/store/mail.ts';
import { mailCliInProcess } from '../support/cli-in-process.ts';
import { importMailConfig } from '#server/services/mail/importConfig.ts';
import { createChangeCounter } from '#server/deps.ts';

const count = (db: DB, table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
const snapshot = (db: DB) =>
  Object.fromEntries(
    ['mail_domains', 'mail_mailboxes', 'mail_aliases', 'mail_alias_targets', 'mail_policies', 'mail_config_changes', 'audit_log'].map(
      (t) => [t, count(db, t)],
    ),
  );

/** 10 domains, 600 mailboxes (60 each), 400 aliases (40 each: internal lists, external forwards, some keeping a copy). */
function mapSet() {
  const domains = Array.from({ length: 10 }, (_, i) => `d${i}.example`);
  const mailboxes: string[] = ['# virtual_mailbox_maps from the old MX'];
  const aliases: string[] = ['# virtual_alias_maps from the old MX'];
  for (const d of domains) {
    for (let u = 0; u < 60; u++) mailboxes.push(`user${u}@${d}\t${d}/user${u}/`);
    for (let a = 0; a < 40; a++) {
      const self = a % 10 === 0 ? `user${a}@${d}, ` : '';
      const key = a % 10 === 0 ? `user${a}@${d}` : `list${a}@${d}`;
      aliases.push(
        `${key}  ${self}user${(a + 1) % 60}@${d}, user${(a + 2) % 60}@${d} ${a % 3 === 0 ? `ext${a}@provider.test` : ''}`.trimEnd(),
      );
    }
  }
  return {
    domains: `# virtual_mailbox_domains\n${domains.slice(0, 5).join('\n')}\n${domains.slice(5).join(', ')}\n`,
    mailboxes: `${mailboxes.join('\n')}\n`,
    aliases: `${aliases.join('\n')}\n`,
  };
}

function writeSet(dir: string, set: { domains: string; mailboxes: string; aliases: string }) {
  const f = {
    domains: join(dir, 'virtual_mailbox_domains'),
    mailboxes: join(dir, 'virtual_mailbox_maps'),
    aliases: join(dir, 'virtual_alias_maps'),
  };
  writeFileSync(f.domains, set.domains);
  writeFileSync(f.mailboxes, set.mailboxes);
  writeFileSync(f.aliases, set.aliases);
  return ['import', '--postfix-domains', f.domains, '--postfix-mailboxes', f.mailboxes, '--postfix-aliases', f.aliases];
}

test('a generated Postfix map set with 1,000 addresses: exact dry-run diff, an apply that matches it, a second run changes nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-import-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { db, run } = mailCliInProcess('2026-12-02T12:00:00.000Z');
  // Already hosted: d0.example (active), 50 of its mailboxes, 20 of its aliases of which 5 point elsewhere today.
  assert.equal((await run('domain', 'add', 'd0.example')).code, 0);
  for (let u = 0; u < 50; u++) assert.equal((await run('mailbox', 'add', `user${u}@d0.example`)).code, 0);
  for (let a = 1; a < 21; a++) {
    const targets = a <= 5 ? ['someone@else.test'] : [`user${(a + 1) % 60}@d0.example`, `user${(a + 2) % 60}@d0.example`];
    if (a % 3 === 0 && a > 5) targets.push(`ext${a}@provider.test`);
    if (a % 10 === 0) continue; // these are self-copy aliases; leave them to the import
    assert.equal((await run('alias', 'add', `list${a}@d0.example`, ...targets)).code, 0);
  }
  const preexistingAliases = listAliases(db).length; // 18: list1..list20 without list10 and list20
  assert.equal(preexistingAliases, 18);
  const args = writeSet(dir, mapSet());

  const before = snapshot(db);
  const dry = await run(...args, '--dry-run', '--legacy-host', 'old-mx.example.net', '--legacy-port', '2525');
  assert.equal(dry.code, 0, dry.stderr);
  assert.deepEqual(snapshot(db), before, 'a dry run writes nothing');
  const out = dry.stdout.split('\n');
  assert.ok(out.includes('domains: 9 to create, 0 to update, 1 unchanged'), dry.stdout.slice(-600));
  assert.ok(out.includes('mailboxes: 550 to create, 0 to update, 50 unchanged'), dry.stdout.slice(-600));
  assert.ok(out.includes('aliases: 382 to create, 5 to update, 13 unchanged'), dry.stdout.slice(-600));
  assert.ok(out.includes('Not in the files and kept as they are (an import never deletes): 0 domain(s), 0 mailbox(es), 0 alias(es).'));
  assert.equal(out.filter((l) => l.startsWith('+ ')).length, 9 + 550 + 382);
  assert.equal(out.filter((l) => l.startsWith('~ ')).length, 5);
  assert.ok(out.includes(`+ domain d3.example: mode legacy, legacy old-mx.example.net:2525  (${join(dir, 'virtual_mailbox_domains')}:5)`));
  assert.ok(
    out.includes(
      `~ alias list1@d0.example: someone@else.test → user2@d0.example, user3@d0.example  (${join(dir, 'virtual_alias_maps')}:3)`,
    ),
    out.filter((l) => l.startsWith('~')).join('\n'),
  );
  assert.equal(out.at(-2), 'Dry run: nothing was changed.');

  const real = await run(...args, '--legacy-host', 'old-mx.example.net', '--legacy-port', '2525');
  assert.equal(real.code, 0, real.stderr);
  assert.equal(real.stdout.split('\n').at(-2), 'Imported: 946 record(s) created or updated.');
  // The same diff as the dry run, line for line.
  assert.deepEqual(real.stdout.split('\n').slice(0, -2), out.slice(0, -2));
  const after = snapshot(db);
  assert.equal(after.mail_domains, 10);
  assert.equal(after.mail_mailboxes, 600);
  assert.equal(after.mail_aliases, 400);
  assert.equal(after.mail_config_changes - before.mail_config_changes, 946, 'one change-log version per created or updated record');
  assert.equal(after.audit_log - before.audit_log, 947, 'one audit row per record, plus the import summary');
  const actions = db
    .prepare('SELECT action, count(*) AS n FROM audit_log WHERE id > (SELECT max(id) - 947 FROM audit_log) GROUP BY action ORDER BY action')
    .all() as { action: string; n: number }[];
  assert.deepEqual(actions, [
    { action: 'mail.alias.add', n: 382 },
    { action: 'mail.alias.update', n: 5 },
    { action: 'mail.domain.add', n: 9 },
    { action: 'mail.import', n: 1 },
    { action: 'mail.mailbox.add', n: 550 },
  ]);
  const summary = db.prepare("SELECT actor, detail FROM audit_log WHERE action = 'mail.import'").get() as { actor: string; detail: string };
  assert.equal(summary.actor, 'cli');
  assert.deepEqual(JSON.parse(summary.detail).counts.alias, { create: 382, update: 5, unchanged: 13 });
  const d0 = listDomains(db).find((d) => d.name === 'd0.example');
  assert.equal(d0?.mode, 'active', 'a hosted domain keeps its mode');
  assert.deepEqual(
    listDomains(db)
      .filter((d) => d.name !== 'd0.example')
      .map((d) => `${d.mode} ${d.legacyHost}:${d.legacyPort}`),
    Array(9).fill('legacy old-mx.example.net:2525'),
  );
  assert.deepEqual(findAlias(db, 'user10@d4.example')?.targets, ['user11@d4.example', 'user12@d4.example']);
  assert.equal(findAlias(db, 'user10@d4.example')?.keepLocalCopy, true);
  assert.deepEqual(findAlias(db, 'list3@d4.example')?.targets, ['user4@d4.example', 'user5@d4.example', 'ext3@provider.test']);
  assert.equal(listMailboxes(db).length, 600);

  const again = await run(...args, '--legacy-host', 'old-mx.example.net', '--legacy-port', '2525');
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(snapshot(db), after, 'a second run writes nothing: no change-log version, no audit row');
  assert.ok(again.stdout.includes('aliases: 0 to create, 0 to update, 400 unchanged'));
  assert.equal(again.stdout.split('\n').at(-2), 'Nothing to change: the configuration already matches the files.');
});

test('a map set with broken lines imports nothing and names each bad line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-import-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { db, run } = mailCliInProcess('2026-12-02T12:00:00.000Z');
  const set = mapSet();
  const mailboxes = set.mailboxes.split('\n');
  mailboxes[100] = 'no-at-sign d0.example/x/'; // line 101
  mailboxes[300] = 'user1@d0.example d0.example/again/'; // line 301: given twice
  const aliases = set.aliases.split('\n');
  aliases[9] = 'list9@d0.example root'; // line 10: a local name, not an address
  aliases[399] = '@d9.example @d8.example'; // line 400: a catch-all to a domain, not one address
  const args = writeSet(dir, { domains: `${set.domains}bad_domain\n`, mailboxes: mailboxes.join('\n'), aliases: aliases.join('\n') });
  const before = snapshot(db);
  const r = await run(...args, '--mode', 'active');
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trimEnd().split('\n');
  assert.deepEqual(
    lines.map((l) => l.replace(`${dir}/`, '').replace(/: .*/, '')),
    [
      'virtual_mailbox_domains:8',
      'virtual_mailbox_maps:101',
      'virtual_mailbox_maps:301',
      'virtual_alias_maps:10',
      'virtual_alias_maps:400',
      'error',
    ],
  );
  assert.match(lines[2], /mailbox user1@d0\.example is already given at .*virtual_mailbox_maps:3/);
  assert.equal(lines.at(-1), 'error: 5 bad line(s); nothing was imported.');
  assert.deepEqual(snapshot(db), before, 'nothing imported');

  // The plan's own checks (a domain that is not hosted) are refused the same way.
  const args2 = writeSet(dir, { domains: 'd0.example\n', mailboxes: 'a@d0.example x/\nb@elsewhere.test y/\n', aliases: '' });
  const r2 = await run(...args2, '--mode', 'active');
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /virtual_mailbox_maps:2: the domain of b@elsewhere\.test is neither hosted nor in the import's domains/);
  assert.deepEqual(snapshot(db), before);
  // New legacy domains need the old MX's host.
  const r3 = await run(...args2.slice(0, 3));
  assert.equal(r3.code, 2);
  assert.match(r3.stderr, /virtual_mailbox_domains:1: the new domain d0\.example would be in legacy mode.*give its legacy host/);
});

test('mail import --csv: domains, mailboxes, aliases, forwards and policies; idempotent; usage errors', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-import-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { db, run } = mailCliInProcess('2026-12-02T12:00:00.000Z');
  const csv = join(dir, 'old.csv');
  writeFileSync(
    csv,
    [
      'domain,address,type,targets,spam_policy,virus_policy',
      'example.com,,domain,,tag,',
      'example.com,anna@example.com,mailbox,,reject,reject',
      'example.com,info@example.com,alias,anna@example.com,,',
      'example.com,out@example.com,forward,someone@provider.test,remove,',
    ].join('\n'),
  );
  const r = await run('import', '--csv', csv, '--mode', 'active');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^\+ domain example\.com: mode active {2}\(.*old\.csv:2\)$/m);
  assert.match(r.stdout, /^\+ policy anna@example\.com: spam=reject virus=reject {2}\(.*old\.csv:3\)$/m);
  assert.match(r.stdout, /Imported: 7 record\(s\) created or updated\.\n$/);
  const show = await run('policy', 'show', 'anna@example.com');
  assert.match(show.stdout, /\nspam\s+reject\s+address\n/);
  const list = await run('policy', 'list');
  assert.match(list.stdout, /\ndomain\s+example\.com\s+spam=tag\n/);
  const versions = count(db, 'mail_config_changes');
  const again = await run('import', '--csv', csv, '--mode', 'active');
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /Nothing to change/);
  assert.equal(count(db, 'mail_config_changes'), versions);

  let u = await run('import', '--dry-run');
  assert.equal(u.code, 2);
  assert.match(u.stderr, /give either --csv FILE or the --postfix-\* map files/);
  u = await run('import', '--csv', join(dir, 'missing.csv'));
  assert.equal(u.code, 2);
  assert.match(u.stderr, /cannot read .*missing\.csv: ENOENT/);
  u = await run('import', '--csv', csv, '--mode', 'sometimes');
  assert.equal(u.code, 2);
  assert.match(u.stderr, /--mode: legacy, shadow or active/);
});

test('a failure while applying rolls back every record already written: nothing is half-imported', async () => {
  const { db } = mailCliInProcess('2026-12-02T12:00:00.000Z');
  // The 300th mailbox insert fails (as a full disk or a crash would), after domains and 299 mailboxes went in.
  db.exec(`CREATE TRIGGER fail_late BEFORE INSERT ON mail_mailboxes WHEN NEW.address = 'user59@d4.example'
           BEGIN SELECT RAISE(ABORT, 'injected failure'); END`);
  const set = mapSet();
  const before = snapshot(db);
  assert.throws(
    () =>
      importMailConfig({
        ctx: { db, clock: () => new Date('2026-12-02T12:00:00.000Z'), changes: createChangeCounter() },
        actor: { userId: null, name: 'cli' },
        source: {
          format: 'postfix',
          domains: { name: 'd', text: set.domains },
          mailboxes: { name: 'm', text: set.mailboxes },
          aliases: { name: 'a', text: set.aliases },
        },
        options: { newDomainMode: 'active', legacyHost: null, legacyPort: null },
        dryRun: false,
      }),
    /injected failure/,
  );
  assert.deepEqual(snapshot(db), before);
});
