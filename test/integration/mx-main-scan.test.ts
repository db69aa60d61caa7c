// The node as started in production (mailsystem/main.ts) checks content by default (issue 12): with Debian's rspamd
// and clamd at its settings it delivers ham and refuses GTUBE for a rejecting domain; with nothing listening at the
// scanner addresses it answers 451 4.7.1 (fail closed) rather than accepting unscanned mail; only TIDINGS_SCAN=off
// accepts without checks, and then every copy says so.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { ConfigChange } from '#data/contracts/mx-config.ts';
import { type Clamd, startClamd } from '../support/clamd.ts';
import { gtubeMessage, HAM_ZONE, hamMessage, sendFromHamSender } from '../support/mail-corpus.ts';
import { mailboxMessages } from '../support/mx-harness.ts';
import { ANNA_MAILDIR_REPLICA, type MainNode, startMainNode } from '../support/mx-main.ts';
import { type ReservedPort, reservePort } from '../support/ports.ts';
import { type Rspamd, startRspamd } from '../support/rspamd.ts';
import { waitFor } from '../support/wait.ts';

const changes: ConfigChange[] = [
  ...ANNA_MAILDIR_REPLICA,
  {
    version: 3,
    op: 'upsert',
    entity: 'policy',
    key: 'example.com',
    record: { scope: 'domain', key: 'example.com', settings: { spam: 'reject' } },
  },
];

let rspamd: Rspamd;
let clamd: Clamd;
let nowhere: ReservedPort;
const nodes: (MainNode & { dir: string })[] = [];

before(async () => {
  [rspamd, clamd, nowhere] = await Promise.all([startRspamd({ zone: HAM_ZONE }), startClamd(), reservePort()]);
});
after(async () => {
  for (const n of nodes) await n.stop();
  nowhere?.release();
  await Promise.all([rspamd?.stop(), clamd?.stop()]);
});

async function node(env: Record<string, string>): Promise<MainNode & { dir: string }> {
  const n = await startMainNode(changes, env);
  nodes.push(n);
  return n;
}

const inbox = (n: { dir: string }, marker: string): Buffer[] =>
  mailboxMessages(join(n.dir, 'mx', 'mail'), 'anna@example.com').filter((m) => m.includes(marker));

describe('mailsystem/main.ts content checks', () => {
  it('on, with rspamd and clamd: ham delivered with our Authentication-Results, GTUBE refused by the domain policy', async () => {
    const n = await node({
      TIDINGS_SCAN: 'on',
      TIDINGS_RSPAMD_URL: rspamd.url,
      TIDINGS_CLAMD_ADDRESS: `127.0.0.1:${clamd.port}`,
      TIDINGS_CLAMD_STREAM_MAX: String(clamd.streamMaxLength),
      // the node refuses to start with a size limit clamd could not scan
      TIDINGS_SMTP_MAX_MESSAGE_BYTES: String(clamd.streamMaxLength),
    });
    assert.match(await sendFromHamSender(n.port, 'anna@example.com', hamMessage({ headers: ['X-Test-Marker: main-ham'] })), /^250 /);
    await waitFor(() => inbox(n, 'main-ham').length === 1, 'ham delivered');
    assert.match(inbox(n, 'main-ham')[0].toString(), /^Received: [\s\S]*\r\nAuthentication-Results: mx\.tidings\.test;/);
    assert.match(await sendFromHamSender(n.port, 'anna@example.com', gtubeMessage()), /^550 5\.7\.1 /);
  });

  it('on, with nothing listening at the scanner addresses: 451 4.7.1, nothing accepted', async () => {
    const n = await node({
      TIDINGS_SCAN: 'on',
      TIDINGS_RSPAMD_URL: `http://127.0.0.1:${nowhere.port}`,
      TIDINGS_CLAMD_ADDRESS: `127.0.0.1:${nowhere.port}`,
      TIDINGS_SCAN_TIMEOUT: '5s',
    });
    assert.match(await sendFromHamSender(n.port, 'anna@example.com', hamMessage()), /^451 4\.7\.1 /);
  });

  it('off: accepted without checks, and the copy says it was not scanned', async () => {
    const n = await node({ TIDINGS_SCAN: 'off' });
    assert.match(await sendFromHamSender(n.port, 'anna@example.com', gtubeMessage({ headers: ['X-Test-Marker: main-off'] })), /^250 /);
    await waitFor(() => inbox(n, 'main-off').length === 1, 'delivered unscanned');
    assert.match(inbox(n, 'main-off')[0].toString(), /^X-Tidings-Scan: off: not scanned for spam or viruses\r\n/);
  });
});
