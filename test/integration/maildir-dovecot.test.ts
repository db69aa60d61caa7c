// The built-in Maildir store is Dovecot-compatible: messages delivered by our Maildir transport are
// read by a real Dovecot (doveadm) pointed at the built-in root: the right count, subjects and bodies.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RawSmtp } from '../support/smtp-client.ts';
import { maildirUsers } from '../support/fake-directory.ts';
import { mailboxMessages, startHarness, type Harness } from '../support/mx-harness.ts';
import { waitFor } from '../support/wait.ts';
import { mailUserIds, startDovecot, type Dovecot } from '../support/dovecot.ts';

let h: Harness | undefined;
let dovecot: Dovecot | undefined;
after(async () => {
  await dovecot?.stop();
  await h?.stop();
});

function doveadm(conf: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('doveadm', ['-c', conf, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`doveadm ${args.join(' ')}: ${err.message} ${stderr}`));
      else resolve(stdout);
    });
  });
}

/** The `mail` user must own the store Dovecot reads (it refuses uid 0), and reach it. */
function handToMailUser(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  if (statSync(path).isDirectory()) for (const entry of readdirSync(path)) handToMailUser(join(path, entry), uid, gid);
}

async function send(port: number, to: string, subject: string, body: string): Promise<void> {
  const c = await RawSmtp.connect(port);
  await c.open('sender@origin.test', [to]);
  assert.match((await c.cmd('DATA'))!, /^354 /);
  c.write(
    `From: sender@origin.test\r\nTo: ${to}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@origin.test>\r\n\r\n${body}\r\n.\r\n`,
  );
  assert.match((await c.read())!, /^250 /);
  c.close();
}

test('Dovecot reads the built-in Maildir: message count, subjects and bodies', async () => {
  h = await startHarness(maildirUsers(2));
  const subjects = ['first built-in', 'second built-in', 'third, with: punctuation'];
  for (const [i, s] of subjects.entries()) await send(h.port, 'user0@example.test', s, `body number ${i + 1}`);
  await send(h.port, 'user1@example.test', 'for the other user', 'other');
  await waitFor(
    () =>
      mailboxMessages(h!.maildirRoot, 'user0@example.test').length === 3 &&
      mailboxMessages(h!.maildirRoot, 'user1@example.test').length === 1,
    'built-in Maildir deliveries',
  );

  // The harness state folder is 0700 (mkdtemp): open the path to the store for the mail user.
  chmodSync(h.dir, 0o755);
  const { uid, gid } = mailUserIds();
  handToMailUser(h.maildirRoot, uid, gid);
  dovecot = await startDovecot({ mailRoot: h.maildirRoot });

  const found = (await doveadm(dovecot.conf, 'search', '-u', 'user0@example.test', 'mailbox', 'INBOX', 'all'))
    .trim()
    .split('\n')
    .filter(Boolean);
  assert.equal(found.length, 3, `doveadm search: ${found.join(' | ')}`);

  const out = await doveadm(dovecot.conf, '-f', 'tab', 'fetch', '-u', 'user0@example.test', 'hdr.subject', 'mailbox', 'INBOX', 'all');
  assert.deepEqual(out.trim().split('\n').slice(1).sort(), [...subjects].sort(), out);
  // Dovecot reads the bodies too: a body search finds exactly the one message.
  const hit = (await doveadm(dovecot.conf, 'search', '-u', 'user0@example.test', 'mailbox', 'INBOX', 'body', 'number 2'))
    .trim()
    .split('\n')
    .filter(Boolean);
  assert.equal(hit.length, 1, hit.join(' | '));
  const text = await doveadm(dovecot.conf, 'fetch', '-u', 'user0@example.test', 'text', 'mailbox', 'INBOX', 'body', 'number 2');
  assert.match(text, /Subject: second built-in\r?\n/);
  assert.match(text, /\r?\n\r?\nbody number 2\r?\n/);

  const other = await doveadm(dovecot.conf, '-f', 'tab', 'fetch', '-u', 'user1@example.test', 'hdr.subject', 'mailbox', 'INBOX', 'all');
  assert.deepEqual(other.trim().split('\n').slice(1), ['for the other user']);
});
