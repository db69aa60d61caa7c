// Issue 13: recipients of a legacy domain are validated at RCPT — from imported mailboxes where the domain has them,
// otherwise by a probe to the legacy system — against a real private Postfix playing the old MX.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import type { ConfigChange } from '#data/contracts/mx-config.ts';
import { applyConfigChanges } from '#mailsystem/config/apply.ts';
import { openNodeDatabase } from '#mailsystem/queue/open.ts';
import { startReplicaNode } from '../support/mx-harness.ts';
import { isListening } from '../support/ports.ts';
import { type PostfixInstance, startLegacyPostfix, startPostfix } from '../support/postfix.ts';
import { codeOf, RawSmtp } from '../support/smtp-client.ts';
import { waitFor } from '../support/wait.ts';

const PROBED = 'probed.example'; // legacy, no imported addresses: the probe asks Postfix
const IMPORTED = 'imported.example'; // legacy, with an imported mailbox: validated from the replica

function changes(legacyPort: number): ConfigChange[] {
  let v = 0;
  const domain = (name: string): ConfigChange =>
    ({
      version: ++v,
      op: 'upsert',
      entity: 'domain',
      key: name,
      record: { name, mode: 'legacy', legacyHost: '127.0.0.1', legacyPort, catchAll: null },
    }) as ConfigChange;
  return [
    domain(PROBED),
    domain(IMPORTED),
    {
      version: ++v,
      op: 'upsert',
      entity: 'mailbox',
      key: `anna@${IMPORTED}`,
      record: { address: `anna@${IMPORTED}`, domain: IMPORTED, delivery: 'maildir', lmtpHost: null, lmtpPort: null },
    } as ConfigChange,
  ];
}

/** Messages Postfix stored for local@PROBED. */
function postfixMessages(pf: PostfixInstance, local: string): string[] {
  const out: string[] = [];
  for (const sub of ['new', 'cur']) {
    const d = join(pf.maildirRoot, PROBED, local, 'Maildir', sub);
    if (existsSync(d)) for (const f of readdirSync(d)) out.push(readFileSync(join(d, f), 'utf8'));
  }
  return out;
}

async function send(port: number, to: string[], id: string): Promise<{ rcpt: string[]; data: string | null }> {
  const c = await RawSmtp.connect(port);
  try {
    const rcpt = await c.open('sender@outside.test', to);
    if (!rcpt.some((r) => codeOf(r) === 250)) return { rcpt, data: await c.cmd('DATA') };
    await c.cmd('DATA');
    const data = await c.cmd(`Subject: ${id}\r\nX-Test-Id: ${id}\r\n\r\nhello\r\n.`);
    await c.cmd('QUIT');
    return { rcpt, data };
  } finally {
    c.close();
  }
}

test('legacy domain: imported map and Postfix probe refuse unknown addresses at RCPT; Postfix down → 451, the retry lands once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-legacy-rcpt-'));
  const legacy = await startLegacyPostfix(dir, { domain: PROBED, mailboxes: ['anna'], processLimit: 10 });
  const { reserved } = legacy;
  let pf = legacy.pf;
  t.after(async () => {
    await pf.stop();
    reserved.release();
    rmSync(dir, { recursive: true, force: true });
  });

  const db = openNodeDatabase(join(dir, 'node.sqlite'));
  const list = changes(reserved.port);
  applyConfigChanges(db, { since: 0, version: list.length, more: false, reset: false, changes: list }, new Date());
  const { mx, port } = await startReplicaNode(db, dir, {
    retry: { firstRetryMs: 200 },
    worker: { idlePollMs: 100 },
    legacyProbe: { timeoutMs: 3000 },
  });
  t.after(async () => {
    await mx.stop();
    db.close();
  });
  const reasons = () =>
    (db.prepare("SELECT reason FROM events WHERE type = 'rejected' ORDER BY seq").pluck().all() as string[]).filter(Boolean);

  // 1. Imported map: an unknown address is refused from the replica, without asking the legacy system.
  const imported = await send(port, [`nobody@${IMPORTED}`], 'imported-unknown');
  assert.match(imported.rcpt[0], /^550 5\.1\.1 /);
  assert.equal(mx.legacyProbe.stats.probes, 0);

  // 2. No imported addresses: Postfix is asked. Known → 250 and relayed into its Maildir; unknown → 550 5.1.1.
  const first = await send(port, [`anna@${PROBED}`, `nobody@${PROBED}`], 'probe-1');
  assert.match(first.rcpt[0], /^250 /);
  assert.match(first.rcpt[1], /^550 5\.1\.1 /);
  assert.equal(codeOf(first.data), 250);
  assert.equal(mx.legacyProbe.stats.probes, 2);
  await waitFor(() => postfixMessages(pf, 'anna').some((m) => m.includes('X-Test-Id: probe-1')), 'probe-1 in Postfix', {
    timeoutMs: 30_000,
    intervalMs: 50,
  });
  // Within the TTL the same address is not probed again.
  const again = await send(port, [`anna@${PROBED}`], 'probe-2');
  assert.match(again.rcpt[0], /^250 /);
  assert.equal(mx.legacyProbe.stats.probes, 2);
  await waitFor(() => postfixMessages(pf, 'anna').some((m) => m.includes('X-Test-Id: probe-2')), 'probe-2 in Postfix', {
    timeoutMs: 30_000,
    intervalMs: 50,
  });

  // 3. Postfix stopped: an address not in the cache gets 451 with the new reason; nothing is accepted.
  await pf.stop();
  const down = await send(port, [`bob@${PROBED}`], 'while-down');
  assert.match(down.rcpt[0], /^451 4\.4\.3 /);
  assert.ok(codeOf(down.data) >= 500, `DATA without recipients: ${down.data}`);
  assert.equal(reasons().at(-1), 'legacy-unavailable');
  assert.equal(db.prepare("SELECT count(*) FROM events WHERE type = 'accepted'").pluck().get(), 2);

  // 4. Postfix back (now knowing bob): the sender's retry is accepted and delivered once.
  pf = startPostfix({ dir: pf.dir, port: reserved.port, domain: PROBED, mailboxes: ['anna', 'bob'], processLimit: 10 });
  await waitFor(() => isListening(reserved.port), 'Postfix to listen again', { timeoutMs: 30_000, intervalMs: 50 });
  const retry = await send(port, [`bob@${PROBED}`], 'retry');
  assert.match(retry.rcpt[0], /^250 /);
  assert.equal(codeOf(retry.data), 250);
  await waitFor(() => postfixMessages(pf, 'bob').length > 0 && pf.queueEmpty(), 'the retry in Postfix', {
    timeoutMs: 30_000,
    intervalMs: 50,
  });
  await waitFor(() => db.prepare("SELECT count(*) FROM events WHERE type = 'delivered'").pluck().get() === 3, 'three deliveries', {
    timeoutMs: 10_000,
    intervalMs: 50,
  });
  assert.equal(postfixMessages(pf, 'bob').filter((m) => m.includes('X-Test-Id: retry')).length, 1);
  assert.equal(postfixMessages(pf, 'anna').length, 2);
  assert.deepEqual(
    reasons().filter((r) => r !== 'unknown-user'),
    ['legacy-unavailable'],
  );
});

test('a legacy system that greets and then stalls: 451 4.4.3 within the probe timeout, never 550', async (t) => {
  const sockets = new Set<Socket>();
  const stalled = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.write('220 old.test ESMTP\r\n'); // and nothing after that
  });
  await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
  const legacyPort = (stalled.address() as AddressInfo).port;
  const dir = mkdtempSync(join(tmpdir(), 'tidings-legacy-stall-'));
  const db = openNodeDatabase(join(dir, 'node.sqlite'));
  const list = changes(legacyPort);
  applyConfigChanges(db, { since: 0, version: list.length, more: false, reset: false, changes: list }, new Date());
  const { mx, port } = await startReplicaNode(db, dir, { legacyProbe: { timeoutMs: 300 } });
  t.after(async () => {
    await mx.stop();
    db.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => stalled.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });
  const started = Date.now();
  const r = await send(port, [`anna@${PROBED}`], 'stalled');
  assert.match(r.rcpt[0], /^451 4\.4\.3 /);
  assert.ok(Date.now() - started < 3000, 'answered after the probe timeout, not the session timeout');
  assert.equal(db.prepare("SELECT count(*) FROM events WHERE type = 'accepted'").pluck().get(), 0);
  assert.equal(
    db.prepare("SELECT reason FROM events WHERE type = 'rejected' ORDER BY seq DESC LIMIT 1").pluck().get(),
    'legacy-unavailable',
  );
});
