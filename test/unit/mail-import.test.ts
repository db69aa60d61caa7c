// The import parsers (Postfix maps, the import CSV) and the plan: records with their lines, every bad line named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCsv } from '#server/domain/mail-import-csv.ts';
import { parsePostfix, type DesiredConfig } from '#server/domain/mail-import.ts';
import { planImport, planLines, type CurrentConfig } from '#server/domain/mail-import-plan.ts';

const NONE: CurrentConfig = { domains: [], mailboxes: [], aliases: [], policies: [] };
const LEGACY = { newDomainMode: 'legacy' as const, legacyHost: 'old-mx.example.net', legacyPort: null };

function ok(r: ReturnType<typeof parseCsv>): DesiredConfig {
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors));
  return r.desired;
}

test('Postfix maps: comments, blanks, list forms, continuation lines, self-target keeps a local copy', () => {
  const d = ok(
    parsePostfix({
      domains: { name: 'domains', text: '# hosted\nExample.com\n\nexample.org, example.net other.test\n' },
      mailboxes: { name: 'mailboxes', text: 'anna@example.com   example.com/anna/\n# x\nBob@Example.org\texample.org/bob/\n' },
      aliases: {
        name: 'aliases',
        text: 'info@example.com anna@example.com, Bob@Example.org\n  Ext@Provider.TEST\nanna@example.com anna@example.com,copy@elsewhere.test\n',
      },
    }),
  );
  assert.deepEqual(
    d.domains.map((x) => [x.name, x.line]),
    [
      ['example.com', 2],
      ['example.org', 4],
      ['example.net', 4],
      ['other.test', 4],
    ],
  );
  assert.deepEqual(
    d.mailboxes.map((m) => [m.address, m.file, m.line]),
    [
      ['anna@example.com', 'mailboxes', 1],
      ['bob@example.org', 'mailboxes', 3],
    ],
  );
  assert.deepEqual(
    d.aliases.map((a) => [a.address, a.targets, a.keepLocalCopy, a.line]),
    [
      ['info@example.com', ['anna@example.com', 'Bob@example.org', 'Ext@provider.test'], false, 1],
      ['anna@example.com', ['copy@elsewhere.test'], true, 3],
    ],
  );
});

test('Postfix maps: every bad line is named with its file and line, not just the first', () => {
  const r = parsePostfix({
    domains: { name: 'd', text: 'example.com\nnot_a_domain\n' },
    mailboxes: { name: 'm', text: 'anna@example.com p/\nbroken-line-without-at x\nanna@example.com again/\nbob@example.com\n' },
    aliases: {
      name: 'a',
      text: '@example.com anna@example.com, bob@example.com\ninfo@example.com root\nok@example.com anna@example.com\nx@example.com x@example.com\n',
    },
  });
  assert.equal(r.ok, false);
  assert.deepEqual(r.ok ? [] : r.errors.map((e) => `${e.file}:${e.line}`), ['d:2', 'm:2', 'm:3', 'm:4', 'a:1', 'a:2', 'a:4']);
  const text = r.ok ? '' : r.errors.map((e) => e.message).join('\n');
  assert.match(text, /"not_a_domain" must be a domain name/);
  assert.match(text, /mailbox anna@example\.com is already given at m:1/);
  assert.match(text, /@example\.com: the catch-all target "anna@example\.com, bob@example\.com" must be an address.*one catch-all/);
  assert.match(text, /target "root" must be an address/);
  assert.match(text, /has no target other than itself/);
});

test('CSV: header, domain rows, mailbox/alias/forward rows, quoted fields, policies at domain and address level', () => {
  const d = ok(
    parseCsv({
      name: 'old.csv',
      text: [
        'domain,address,type,targets,spam_policy,virus_policy',
        'example.com,,domain,,reject,',
        '# a comment',
        'example.com,anna@example.com,mailbox,,tag,reject',
        'example.com,info@example.com,alias,"anna@example.com, bob@example.com",,',
        'example.org,fwd@example.org,forward,someone@provider.test,,',
        '',
      ].join('\r\n'),
    }),
  );
  assert.deepEqual(
    d.domains.map((x) => x.name),
    ['example.com', 'example.org'],
  );
  assert.deepEqual(
    d.mailboxes.map((m) => [m.address, m.line]),
    [['anna@example.com', 4]],
  );
  assert.deepEqual(
    d.aliases.map((a) => [a.address, a.targets]),
    [
      ['info@example.com', ['anna@example.com', 'bob@example.com']],
      ['fwd@example.org', ['someone@provider.test']],
    ],
  );
  assert.deepEqual(
    d.policies.map((p) => [p.scope, p.key, p.spam, p.virus]),
    [
      ['domain', 'example.com', 'reject', undefined],
      ['address', 'anna@example.com', 'tag', 'reject'],
    ],
  );
  // Policy columns may be left out of the header.
  assert.ok(parseCsv({ name: 'c', text: 'domain,address,type,targets\nexample.com,a@example.com,mailbox,\n' }).ok);
});

test('CSV: every bad row is named; a wrong header stops at line 1', () => {
  const r = parseCsv({
    name: 'bad.csv',
    text: [
      'domain,address,type,targets,spam_policy,virus_policy',
      'example.com,anna@example.com,mailbox,,,',
      'example.com,anna@example.org,mailbox,,,',
      'example.com,x@example.com,list,,,',
      'example.com,y@example.com,alias,,,',
      'example.com,z@example.com,mailbox,,bounce,',
      'example.com,"w@example.com,mailbox,,,',
      'example.com,anna@example.com,mailbox,,,',
      'example.com,v@example.com,mailbox,,,\u0000',
    ].join('\n'),
  });
  assert.equal(r.ok, false);
  const errors = r.ok ? [] : r.errors;
  assert.deepEqual(
    errors.map((e) => e.line),
    [3, 4, 5, 6, 7, 8, 9],
  );
  assert.match(errors[0].message, /not in the row's domain example\.com/);
  assert.match(errors[1].message, /type "list" must be one of/);
  assert.match(errors[2].message, /needs at least one target/);
  assert.match(errors[3].message, /spam_policy "bounce"/);
  assert.match(errors[4].message, /quoted field is not closed/);
  assert.match(errors[5].message, /already given at bad\.csv:2/);
  assert.match(errors[6].message, /control character/);

  const h = parseCsv({ name: 'h.csv', text: 'address,domain\nx,y\n' });
  assert.deepEqual(h.ok ? [] : h.errors.map((e) => e.line), [1]);
});

test('plan: create / update / unchanged against the current configuration; hosted domains keep their mode; nothing deleted', () => {
  const d = ok(
    parseCsv({
      name: 'c.csv',
      text: [
        'domain,address,type,targets,spam_policy,virus_policy',
        'example.com,anna@example.com,mailbox,,,',
        'example.com,bob@example.com,mailbox,,reject,',
        'example.com,info@example.com,alias,anna@example.com,,',
        'example.com,sales@example.com,alias,bob@example.com,,',
        'new.test,x@new.test,mailbox,,,',
      ].join('\n'),
    }),
  );
  const current: CurrentConfig = {
    domains: [
      { name: 'example.com', mode: 'active', legacyHost: null, legacyPort: null, catchAll: null },
      { name: 'kept.test', mode: 'active', legacyHost: null, legacyPort: null, catchAll: null },
    ],
    mailboxes: [{ address: 'anna@example.com', domain: 'example.com', delivery: 'lmtp', lmtpHost: '127.0.0.1', lmtpPort: 24 }],
    aliases: [
      { address: 'info@example.com', domain: 'example.com', targets: ['anna@example.com'], keepLocalCopy: false },
      { address: 'sales@example.com', domain: 'example.com', targets: ['anna@example.com'], keepLocalCopy: false },
    ],
    policies: [{ scope: 'address', key: 'bob@example.com', settings: { dmarc: 'honour' } }],
  };
  const r = planImport(d, current, LEGACY);
  assert.ok(r.ok);
  const { counts, kept, items } = r.plan;
  assert.deepEqual(counts, {
    domain: { create: 1, update: 0, unchanged: 1 },
    mailbox: { create: 2, update: 0, unchanged: 1 },
    alias: { create: 0, update: 1, unchanged: 1 },
    policy: { create: 0, update: 1, unchanged: 0 },
  });
  assert.deepEqual(kept, { domains: 1, mailboxes: 0, aliases: 0 });
  const domain = items.find((i) => i.kind === 'domain' && i.key === 'example.com');
  assert.equal(domain?.kind === 'domain' && domain.after.mode, 'active');
  const created = items.find((i) => i.kind === 'domain' && i.key === 'new.test');
  assert.deepEqual(created?.after, {
    name: 'new.test',
    mode: 'legacy',
    legacyHost: 'old-mx.example.net',
    legacyPort: null,
    catchAll: null,
  });
  const policy = items.find((i) => i.kind === 'policy');
  assert.deepEqual(policy?.after, { scope: 'address', key: 'bob@example.com', settings: { dmarc: 'honour', spam: 'reject' } });
  const lines = planLines(r.plan);
  assert.ok(lines.includes('~ alias sales@example.com: anna@example.com → bob@example.com  (c.csv:5)'), lines.join('\n'));
  assert.ok(lines.includes('+ domain new.test: mode legacy, legacy old-mx.example.net:25  (c.csv:6)'), lines.join('\n'));
  assert.ok(lines.includes('~ policy bob@example.com: (inherits) → spam=reject  (c.csv:3)'), lines.join('\n'));
  assert.match(lines.at(-1) ?? '', /never deletes\): 1 domain\(s\), 0 mailbox\(es\), 0 alias\(es\)/);
});

test('plan: unhosted domains, a legacy domain without a legacy host and a self-copy without a mailbox are bad lines', () => {
  const d = ok(
    parsePostfix({
      domains: { name: 'd', text: 'new.test\n' },
      mailboxes: { name: 'm', text: 'a@elsewhere.test x/\n' },
      aliases: { name: 'a', text: 'b@new.test b@new.test c@new.test\n' },
    }),
  );
  const r = planImport(d, NONE, { newDomainMode: 'legacy', legacyHost: null, legacyPort: null });
  assert.equal(r.ok, false);
  assert.deepEqual(r.ok ? [] : r.errors.map((e) => `${e.file}:${e.line}`), ['a:1', 'd:1', 'm:1']);
  assert.ok(planImport(d, NONE, { newDomainMode: 'active', legacyHost: null, legacyPort: null }).ok === false);
});

test('Postfix catch-all keys (@domain target) become the domain catch-all: set on a new domain, updated on a hosted one', () => {
  const d = ok(
    parsePostfix({
      domains: { name: 'd', text: 'new.test\n' },
      aliases: { name: 'a', text: '@New.Test  Anna@new.test\n@example.com all@example.com\n@same.test x@same.test\n' },
    }),
  );
  assert.deepEqual(
    d.catchAlls.map((x) => [x.domain, x.target, x.line]),
    [
      ['new.test', 'anna@new.test', 1],
      ['example.com', 'all@example.com', 2],
      ['same.test', 'x@same.test', 3],
    ],
  );
  const hosted = (name: string, catchAll: string | null) => ({
    name,
    mode: 'active' as const,
    legacyHost: null,
    legacyPort: null,
    catchAll,
  });
  const r = planImport(d, { ...NONE, domains: [hosted('example.com', null), hosted('same.test', 'x@same.test')] }, LEGACY);
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors));
  assert.deepEqual(
    r.plan.items.map((i) => [i.key, i.action, i.kind === 'domain' && i.after.catchAll]),
    [
      ['new.test', 'create', 'anna@new.test'],
      ['example.com', 'update', 'all@example.com'],
      ['same.test', 'unchanged', 'x@same.test'],
    ],
  );
  const lines = planLines(r.plan);
  assert.ok(lines.includes('~ domain example.com: catch-all (none) → all@example.com  (a:2)'), lines.join('\n'));
  assert.ok(
    lines.includes('+ domain new.test: mode legacy, legacy old-mx.example.net:25, catch-all anna@new.test  (d:1)'),
    lines.join('\n'),
  );

  const bad = parsePostfix({
    aliases: {
      name: 'a',
      text: '@bad_domain x@example.com\n@example.com @example.net\n@example.com\n@example.com a@example.com\n@example.com b@example.com\n',
    },
    mailboxes: { name: 'm', text: '@example.com example.com/all/\n' },
  });
  assert.deepEqual(bad.ok ? [] : bad.errors.map((e) => `${e.file}:${e.line}`), ['m:1', 'a:1', 'a:2', 'a:3', 'a:5']);
  assert.match(bad.ok ? '' : bad.errors[0].message, /from virtual_alias_maps only/);
  assert.match(bad.ok ? '' : bad.errors[4].message, /catch-all @example\.com is already given at a:4/);
  const unhosted = planImport(ok(parsePostfix({ aliases: { name: 'a', text: '@gone.test a@gone.test\n' } })), NONE, LEGACY);
  assert.match(unhosted.ok ? '' : unhosted.errors[0].message, /catch-all's domain gone\.test is neither hosted nor/);
});

test('CSV forward targets are checked as alias targets: bare names, <...>, mailto: and IP literals are bad lines', () => {
  const rows = ['root', '<a@provider.test>', 'mailto:a@provider.test', 'a@[192.0.2.1]', 'a@b@provider.test'];
  const text = ['domain,address,type,targets', ...rows.map((t) => `example.com,fwd@example.com,forward,"${t}"`)].join('\n');
  const r = parseCsv({ name: 'c.csv', text });
  assert.deepEqual(r.ok ? [] : r.errors.map((e) => e.line), [2, 3, 4, 5, 6]);
  for (const e of r.ok ? [] : r.errors) assert.match(e.message, /fwd@example\.com: target ".*" must be an address/);
  const good = ok(
    parseCsv({ name: 'c.csv', text: 'domain,address,type,targets\nexample.com,fwd@example.com,forward,Some.One@Provider.TEST\n' }),
  );
  assert.deepEqual(good.aliases[0].targets, ['Some.One@provider.test'], 'the local part as written, the domain folded');
});
