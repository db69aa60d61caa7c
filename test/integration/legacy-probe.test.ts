// Issue 13, the legacy recipient probe on a real node (mailsystem/main.ts) against fake legacy MXs on loopback: a config
// sync that changes a domain clears that domain's cached probe answers, and probes per legacy host are bounded, a RCPT
// beyond the bound answered 451 4.4.3, never 550.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfigChange } from '#data/contracts/mx-config.ts';
import { fakeSmtp } from '../support/fake-legacy-mx.ts';
import { spawnMxMain, startMainNode } from '../support/mx-main.ts';
import { RawSmtp } from '../support/smtp-client.ts';
import { startSyncBackend } from '../support/sync-backend.ts';
import { waitFor } from '../support/wait.ts';

const DOMAIN = 'probed.example';

async function rcpt(port: number, to: string): Promise<string> {
  const c = await RawSmtp.connect(port);
  try {
    const [reply] = await c.open('sender@outside.test', [to]);
    await c.cmd('QUIT');
    return reply ?? '';
  } finally {
    c.close();
  }
}

test('a synced change to a legacy domain clears its cached probe answers: the next RCPT asks the old MX again', async (t) => {
  let anna = '550 5.1.1 <anna@probed.example>: Recipient address rejected: User unknown';
  const legacy = await fakeSmtp({ rcpt: (a) => (a.toLowerCase() === `anna@${DOMAIN}` ? anna : '550 5.1.1 unknown') });
  t.after(() => legacy.close());
  const backend = await startSyncBackend();
  await backend.api('POST', '/api/v1/mail/domains', { name: DOMAIN, mode: 'legacy', legacyHost: '127.0.0.1', legacyPort: legacy.port });
  const dir = mkdtempSync(join(tmpdir(), 'tidings-probe-sync-'));
  const node = await spawnMxMain({
    TIDINGS_STATE_DIR: dir,
    TIDINGS_MX_BACKEND_URL: backend.url,
    TIDINGS_MX_TOKEN: backend.token,
    TIDINGS_MX_SYNC_INTERVAL: '1s',
    TIDINGS_TELEMETRY: 'off',
    TIDINGS_LEGACY_PROBE_NEGATIVE_TTL: '1h',
  });
  t.after(async () => {
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const probes = () => legacy.commands.filter((c) => c.startsWith('RCPT')).length;
  // Synced: the domain is known and the old MX says the address does not exist.
  await waitFor(async () => (await rcpt(node.port, `anna@${DOMAIN}`)).startsWith('550 5.1.1'), 'the first sync and a probe', {
    intervalMs: 200,
  });
  anna = '250 2.1.5 Ok'; // the old system learns the address
  const asked = probes();
  assert.match(await rcpt(node.port, `anna@${DOMAIN}`), /^550 5\.1\.1 /, 'the answer is cached for an hour');
  assert.equal(probes(), asked);
  // Any change to the domain reaches the node through the sync; its answers are asked again.
  await backend.api('PATCH', `/api/v1/mail/domains/${DOMAIN}`, { catchAll: null });
  await waitFor(async () => (await rcpt(node.port, `anna@${DOMAIN}`)).startsWith('250'), 'a fresh probe after the sync', {
    intervalMs: 200,
  });
  assert.equal(probes(), asked + 1);
});

test('TIDINGS_LEGACY_PROBE_CONCURRENCY: beyond it a RCPT waits for a slot, then gets 451 4.4.3, never 550', async (t) => {
  const held: ((reply: string) => void)[] = [];
  const legacy = await fakeSmtp({ rcpt: () => new Promise<string>((resolve) => held.push(resolve)) });
  t.after(() => legacy.close());
  const domain: ConfigChange = {
    version: 1,
    op: 'upsert',
    entity: 'domain',
    key: DOMAIN,
    record: { name: DOMAIN, mode: 'legacy', legacyHost: '127.0.0.1', legacyPort: legacy.port, catchAll: null },
  };
  const node = await startMainNode([domain], { TIDINGS_LEGACY_PROBE_CONCURRENCY: '1', TIDINGS_LEGACY_PROBE_TIMEOUT: '4s' });
  t.after(() => node.stop());
  const first = rcpt(node.port, `a@${DOMAIN}`);
  await waitFor(() => held.length === 1, 'the first probe at its RCPT');
  // The slot is taken: the second RCPT's probe waits (half the timeout) and then answers 451, without connecting.
  const started = Date.now();
  assert.match(await rcpt(node.port, `b@${DOMAIN}`), /^451 4\.4\.3 /);
  assert.ok(Date.now() - started >= 1900, 'it waited for a slot first');
  assert.equal(legacy.connections, 1);
  // Once the slot is free again, the next RCPT gets the old MX's own answer.
  const third = rcpt(node.port, `c@${DOMAIN}`);
  held[0]('250 2.1.5 Ok');
  assert.match(await first, /^250 /);
  await waitFor(() => held.length === 2, 'the third probe at its RCPT');
  held[1]('550 5.1.1 unknown');
  assert.match(await third, /^550 5\.1\.1 /);
  assert.equal(legacy.connections, 2);
});
