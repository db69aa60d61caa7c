// `npm run cli -- mail ...`: domains, mailboxes, aliases and node tokens, in-process and through the real entry point.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mailCliInProcess } from '../support/cli-in-process.ts';
import { authenticateNode } from '#server/services/mail/configChanges.ts';

const ROOT = join(import.meta.dirname, '..', '..');

test('mail domain/mailbox/alias add, list, remove; audited as the CLI', async () => {
  const { db, run } = mailCliInProcess();
  assert.equal((await run('domain', 'add', 'Example.com')).code, 0);
  assert.equal((await run('domain', 'add', 'old.test', '--mode', 'legacy', '--legacy-host', '127.0.0.1', '--legacy-port', '2526')).code, 0);
  let r = await run('domain', 'list');
  assert.equal(r.code, 0);
  assert.match(
    r.stdout,
    /^DOMAIN\s+MODE\s+LEGACY HOST\s+CATCH-ALL\nexample\.com\s+active\s+-\s+-\nold\.test\s+legacy\s+127\.0\.0\.1:2526\s+-\n$/,
  );

  assert.equal((await run('mailbox', 'add', 'anna@example.com')).code, 0);
  r = await run('mailbox', 'add', 'bob@example.com', '--lmtp', '127.0.0.1:24');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /LMTP 127\.0\.0\.1:24/);
  r = await run('mailbox', 'list', '--domain', 'example.com');
  assert.match(r.stdout, /anna@example\.com\s+maildir\nbob@example\.com\s+lmtp 127\.0\.0\.1:24\n$/);

  r = await run('alias', 'add', 'anna@example.com', 'anna@gmail.test', 'bob@example.com', '--keep-local-copy');
  assert.equal(r.code, 0, r.stderr);
  r = await run('alias', 'list');
  assert.match(r.stdout, /anna@example\.com\s+yes\s+anna@gmail\.test, bob@example\.com/);

  r = await run('domain', 'set', 'example.com', '--catch-all', 'anna@example.com');
  assert.equal(r.code, 0, r.stderr);
  assert.match((await run('domain', 'list')).stdout, /example\.com\s+active\s+-\s+anna@example\.com/);

  assert.equal((await run('alias', 'remove', 'anna@example.com')).code, 0);
  assert.equal((await run('mailbox', 'remove', 'bob@example.com')).code, 0);
  r = await run('domain', 'remove', 'example.com');
  assert.equal(r.code, 0);
  assert.match(r.stdout, /with 1 mailbox\(es\) and 0 alias\(es\)/);
  assert.doesNotMatch((await run('mailbox', 'list')).stdout, /anna/);

  const audit = db.prepare("SELECT actor, action FROM audit_log WHERE action LIKE 'mail.%'").all() as { actor: string; action: string }[];
  assert.equal(audit.length, 10);
  assert.ok(audit.every((a) => a.actor === 'cli'));
});

test('refusals and usage errors: exit codes and messages, nothing written', async () => {
  const { db, run } = mailCliInProcess();
  // Each refusal is the service's own sentence (and the fields it names), never an HTTP status such as "400 Bad Request".
  let r = await run('mailbox', 'add', 'anna@unhosted.test');
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'error: The domain unhosted.test is not hosted; add it first. (address: domain is not hosted)\n');
  r = await run('domain', 'add', 'not a domain');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: name: must be a domain name[^\n]*\n$/);
  await run('domain', 'add', 'example.com');
  r = await run('domain', 'add', 'example.com');
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'error: The domain example.com is already hosted.\n');
  r = await run('mailbox', 'remove', 'ghost@example.com');
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'error: There is no mailbox ghost@example.com.\n');
  r = await run('mailbox', 'add', 'x@example.com', '--lmtp', 'nonsense');
  assert.equal(r.code, 2);
  r = await run('frobnicate');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown mail command/);
  r = await run('--help');
  assert.equal(r.code, 0);
  assert.match(r.stdout, /mail node-token <node-name>/);
  assert.equal((db.prepare('SELECT count(*) AS n FROM mail_config_changes').get() as { n: number }).n, 1);
});

test('mail node-token prints a token that authenticates the node; a new one replaces the old', async () => {
  const { db, run } = mailCliInProcess();
  const first = await run('node-token', 'mx1');
  assert.equal(first.code, 0);
  const token1 = first.stdout.trim();
  assert.match(token1, /^mxn_[A-Za-z0-9_-]{40,}$/);
  assert.equal(authenticateNode(db, token1)?.name, 'mx1');
  const token2 = (await run('node-token', 'mx1')).stdout.trim();
  assert.notEqual(token2, token1);
  assert.equal(authenticateNode(db, token1), undefined);
  assert.equal(authenticateNode(db, token2)?.name, 'mx1');
  const stored = db.prepare('SELECT token_hash FROM mx_nodes').all() as { token_hash: string }[];
  assert.ok(
    stored.every((s) => !s.token_hash.includes(token2.slice(4))),
    'only a hash is stored',
  );
});

test('through the real entry point: changes persist in the state folder between runs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-cli-'));
  const env = { ...process.env, TIDINGS_STATE_DIR: dir };
  const cli = (...args: string[]) =>
    new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(process.execPath, ['server/cli.ts', 'mail', ...args], { cwd: ROOT, env, timeout: 20_000 }, (err, stdout) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 99) : 0, stdout });
      });
    });
  try {
    assert.equal((await cli('domain', 'add', 'example.com')).code, 0);
    assert.equal((await cli('mailbox', 'add', 'anna@example.com')).code, 0);
    const list = await cli('mailbox', 'list');
    assert.equal(list.code, 0);
    assert.match(list.stdout, /anna@example\.com\s+maildir/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
