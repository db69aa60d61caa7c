// npm start's backend (server/main.ts as a process): a subscribe request whose confirmation could not leave yet (no
// relay configured) survives a SIGKILL, and the next process sends it through TIDINGS_NOTIFY_SMTP_URL; its link
// confirms the follow on that process.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killHard } from '../support/child.ts';
import { startServerMain, type ServerMain } from '../support/server-main.ts';
import { startSmtpSink } from '../support/smtp-sink.ts';
import { linkIn } from '../support/subscriptions.ts';

const dirs: string[] = [];
const servers: ServerMain[] = [];
after(async () => {
  for (const s of servers) await killHard(s.child);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const form = (fields: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
});

test('a queued confirmation survives SIGKILL and leaves through the relay from the next process', { timeout: 240_000 }, async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'tidings-subscribe-'));
  dirs.push(stateDir);
  const first = await startServerMain({ TIDINGS_STATE_DIR: stateDir, TIDINGS_ROLE: 'backend' });
  servers.push(first);
  const answer = await fetch(
    `${first.url}/subscribe`,
    form({ email: 'crash@example.net', scope: 'section', section: 'email', website: '' }),
  );
  assert.equal(answer.status, 200);
  assert.match(await answer.text(), /Check your inbox/);
  await killHard(first.child);

  const sink = await startSmtpSink({ starttls: false });
  try {
    const second = await startServerMain({
      TIDINGS_STATE_DIR: stateDir,
      TIDINGS_ROLE: 'backend',
      TIDINGS_NOTIFY_SMTP_URL: `smtp://127.0.0.1:${sink.port}`,
      TIDINGS_PUBLIC_URL: 'http://status.example.test',
    });
    servers.push(second);
    const [m] = await sink.waitFor(1, 30_000);
    assert.deepEqual(m.to, ['crash@example.net']);
    const confirmed = await fetch(second.url + linkIn(m, 'confirm'), form({}));
    assert.equal(confirmed.status, 200);
    assert.match(await confirmed.text(), /You now get email about/);
    await second.stop();
    assert.equal(sink.messages.length, 1, 'one confirmation, nothing else');
  } finally {
    await sink.close();
  }
});
