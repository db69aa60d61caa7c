// The product entry (mailsystem/main.ts) as a real process, no backend, replica prepared in its state
// folder: SIGTERM answers an idle session 421 4.3.2 and exits 0; a DATA transfer in progress at
// SIGTERM still gets its 250 (and the message is delivered), then 421 4.3.2.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { killHard } from '../support/child.ts';
import { ANNA_MAILDIR_REPLICA, startMainNode, type MainNode } from '../support/mx-main.ts';
import { reservePort } from '../support/ports.ts';
import { RawSmtp } from '../support/smtp-client.ts';

const nodes: (MainNode & { dir: string })[] = [];
after(async () => {
  // Each test sends its own SIGTERM and checks the exit; this only cleans up (also after a failure).
  for (const n of nodes) {
    await killHard(n.child);
    rmSync(n.dir, { recursive: true, force: true });
  }
});

/** A node whose replica hosts example.com with a Maildir mailbox anna@. */
async function startNode(env: Record<string, string> = {}): Promise<MainNode & { dir: string }> {
  const node = await startMainNode(ANNA_MAILDIR_REPLICA, env);
  nodes.push(node);
  return node;
}

const exitCode = (node: MainNode): Promise<number | null> => node.exited.then((e) => e.code);
const withTimeout = <T>(p: Promise<T>, ms: number, what: string): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
};

test('SIGTERM: an idle session is answered 421 4.3.2 and the process exits 0', async () => {
  // A reserved port: after the exit no other test's server can be given it, so "nothing listens" means this node.
  const reserved = await reservePort();
  const node = await startNode({ TIDINGS_SMTP_PORT: String(reserved.port) });
  assert.equal(node.port, reserved.port);
  const idle = await RawSmtp.connect(node.port);
  assert.match((await idle.read())!, /^220 /);
  assert.match((await idle.cmd('EHLO client.test'))!, /^250/);
  node.child.kill('SIGTERM');
  assert.match((await idle.read(10_000))!, /^421 4\.3\.2 /);
  assert.equal(await idle.read(), null, 'the connection is closed after 421');
  assert.equal(await withTimeout(exitCode(node), 15_000, 'exit after SIGTERM'), 0, node.stderr());
  await assert.rejects(RawSmtp.connect(node.port), 'nothing listens after the exit');
  reserved.release();
});

test('SIGTERM during DATA: the transfer still gets its 250, then 421 4.3.2; the message is delivered before exit 0', async () => {
  const node = await startNode();
  const busy = await RawSmtp.connect(node.port);
  const [rcpt] = await busy.open('sender@origin.test', ['anna@example.com']);
  assert.match(rcpt, /^250 /);
  assert.match((await busy.cmd('DATA'))!, /^354 /);
  busy.write('From: sender@origin.test\r\nTo: anna@example.com\r\nSubject: in flight at SIGTERM\r\n\r\nfirst half, ');
  const idle = await RawSmtp.connect(node.port);
  assert.match((await idle.read())!, /^220 /);
  node.child.kill('SIGTERM');
  // The idle session's 421 says the drain has begun; this transfer may still finish.
  assert.match((await idle.read(10_000))!, /^421 4\.3\.2 /);
  assert.equal(node.child.exitCode, null, 'still draining while a transfer is in progress');
  busy.write('second half\r\n.\r\n');
  assert.match((await busy.read(10_000))!, /^250 2\.6\.0 Ok: queued as /);
  assert.match((await busy.cmd('MAIL FROM:<sender@origin.test>'))!, /^421 4\.3\.2 /);
  assert.equal(await withTimeout(exitCode(node), 15_000, 'exit after the drain'), 0, node.stderr());
  const box = join(node.dir, 'mx', 'mail', 'example.com', 'anna', 'Maildir', 'new');
  const files = existsSync(box) ? readdirSync(box) : [];
  assert.equal(files.length, 1, 'the accepted message was delivered before the process exited');
  assert.match(readFileSync(join(box, files[0]), 'latin1'), /Subject: in flight at SIGTERM\r\n\r\nfirst half, second half\r\n$/);
});
