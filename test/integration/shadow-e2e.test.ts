// Issue 13: "The shadow report's counts equal the dry-run verdicts of the messages sent, GTUBE and EICAR included, with
// the real scanners." Everything is real: Debian's rspamd and clamd (started here; the test fails when one is missing),
// a private Postfix as the legacy MX, the backend over loopback HTTP configured through its API (an import for the
// shadow domain), and the node with its own config sync and telemetry shipper. Shadow mail goes to Postfix as received;
// the node's dry run records a verdict per recipient, and the report counts exactly those.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ShadowReport, ShadowVerdict } from '#data/contracts/shadow.ts';
import type { DB } from '#data/db.ts';
import type { MailSystem } from '#mailsystem/app.ts';
import { openNodeDatabase } from '#mailsystem/queue/open.ts';
import type { Shipper } from '#mailsystem/telemetry/shipper.ts';
import { type Clamd, EICAR, mimeWithAttachment, startClamd } from '../support/clamd.ts';
import { gtubeMessage, HAM_SENDER, HAM_ZONE, hamMessage } from '../support/mail-corpus.ts';
import { mailboxMessages, startReplicaNode } from '../support/mx-harness.ts';
import { type PostfixInstance, startLegacyPostfix } from '../support/postfix.ts';
import { realChecks } from '../support/real-checks.ts';
import { type Rspamd, startRspamd } from '../support/rspamd.ts';
import { codeOf, RawSmtp } from '../support/smtp-client.ts';
import { shipperTo, type SyncBackend, startSyncBackend, syncFrom } from '../support/sync-backend.ts';
import { waitFor } from '../support/wait.ts';

const MOVING = 'moving.test'; // shadow, with imported addresses: RCPT is checked against them
const PROBED = 'unmapped.test'; // shadow, nothing imported: RCPT asks Postfix; the new system knows no address of it
const at = (local: string, domain = MOVING) => `${local}@${domain}`;
/** Imported: a mailbox, an alias to it and an external forward, and mailboxes with spam=reject, virus=reject, spam=remove. */
const CSV = [
  'domain,address,type,targets,spam_policy,virus_policy',
  `${MOVING},,domain,,,`,
  `${MOVING},${at('anna')},mailbox,,,`,
  `${MOVING},${at('team')},alias,${at('anna')} ext@provider.test,,`,
  `${MOVING},${at('strict')},mailbox,,reject,`,
  `${MOVING},${at('careful')},mailbox,,,reject`,
  `${MOVING},${at('filtered')},mailbox,,remove,`,
].join('\n');
/** Known to Postfix, not imported: refused at RCPT (the domain has imported configuration), so never recorded. */
const NOT_IMPORTED = at('old');
const BOB = at('bob', PROBED);
const RECIPIENTS = [at('anna'), at('team'), at('strict'), at('careful'), at('filtered'), BOB];

type Pair = `${ShadowVerdict['verdict']}/${ShadowVerdict['reason']}`;
/** What the new system would have done: per message, per recipient (in RECIPIENTS order). */
const EXPECTED: Record<'clean' | 'gtube' | 'eicar', Pair[]> = {
  clean: ['deliver/clean', 'deliver/clean', 'deliver/clean', 'deliver/clean', 'deliver/clean', 'reject/unknown-user'],
  // GTUBE under the default policy (tag) is tagged, but team@ also forwards to an external provider and spam is never
  // forwarded: that copy would have been kept back. A virus is never delivered: kept back, or refused under virus=reject.
  gtube: ['tag/spam', 'quarantine/spam', 'reject/spam', 'tag/spam', 'quarantine/spam', 'reject/unknown-user'],
  eicar: ['quarantine/virus', 'quarantine/virus', 'quarantine/virus', 'reject/virus', 'quarantine/virus', 'reject/unknown-user'],
};
const SUBJECTS = { clean: 'Shadow run: notes', gtube: 'Shadow run: figures', eicar: 'Shadow run: the file' };

const eicarMessage = (): Buffer =>
  Buffer.from(
    mimeWithAttachment(Buffer.from(EICAR), 'readme.com')
      .toString('latin1')
      .replace('Subject: the file you asked for', `Subject: ${SUBJECTS.eicar}`)
      .replace('Message-ID: <attachment-1@example.net>', 'Message-ID: <shadow-eicar@example.net>'),
    'latin1',
  );
const MESSAGES: Record<keyof typeof EXPECTED, Buffer> = {
  clean: hamMessage({ subject: SUBJECTS.clean }),
  gtube: gtubeMessage({ subject: SUBJECTS.gtube }),
  eicar: eicarMessage(),
};

let rspamd: Rspamd;
let clamd: Clamd;
let pf: PostfixInstance;
let releasePort: () => void;
let backend: SyncBackend;
let dir: string;
let db: DB;
let mx: MailSystem;
let port: number;
let shipper: Shipper;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tidings-shadow-e2e-'));
  const postfix = startLegacyPostfix(dir, {
    domain: MOVING,
    mailboxes: ['anna', 'team', 'strict', 'careful', 'filtered', 'old'],
    moreDomains: { [PROBED]: ['bob'] },
    processLimit: 10,
  }).then((started) => {
    ({ pf } = started);
    releasePort = started.reserved.release;
    return started.reserved.port;
  });
  let legacyPort: number;
  [legacyPort, rspamd, clamd, backend] = await Promise.all([postfix, startRspamd({ zone: HAM_ZONE }), startClamd(), startSyncBackend()]);

  // The configuration, through the backend's API: the import creates the shadow domain with its addresses and policies.
  const legacy = { legacyHost: '127.0.0.1', legacyPort };
  await backend.api('POST', '/api/v1/mail/import', { csv: CSV, dryRun: false, newDomainMode: 'shadow', ...legacy });
  await backend.api('POST', '/api/v1/mail/domains', { name: PROBED, mode: 'shadow', ...legacy });

  db = openNodeDatabase(join(dir, 'node.sqlite'));
  const sync = syncFrom(backend, db);
  const synced = await sync.syncOnce();
  assert.ok(synced.ok && synced.applied > 0, `config sync: ${JSON.stringify(synced)}`);
  ({ mx, port } = await startReplicaNode(db, dir, {}, { checks: realChecks({ rspamd, clamd, zone: HAM_ZONE, mtaName: 'mx.test' }) }));
  shipper = shipperTo(backend, db, { intervalMs: 50 });
});

after(async () => {
  await shipper?.stop();
  await mx?.stop();
  db?.close();
  await Promise.all([pf?.stop(), rspamd?.stop(), clamd?.stop()]);
  releasePort?.();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** One transaction from the corpus's sending server: every RCPT's reply, DATA's reply, the queue id it names. */
async function send(to: string[], message: Buffer): Promise<{ rcpt: string[]; data: string; queueId: string }> {
  const c = await RawSmtp.connect(port);
  try {
    await c.read();
    await c.cmd(`EHLO ${HAM_SENDER.helo}`);
    await c.cmd(`MAIL FROM:<${HAM_SENDER.from.address}>`);
    const rcpt: string[] = [];
    for (const r of to) rcpt.push((await c.cmd(`RCPT TO:<${r}>`)) ?? '(closed)');
    await c.cmd('DATA');
    c.write(Buffer.concat([message, Buffer.from('.\r\n')]));
    const data = (await c.read(30_000)) ?? '(closed)';
    await c.cmd('QUIT');
    return { rcpt, data, queueId: /queued as (\S+)/.exec(data)?.[1] ?? '' };
  } finally {
    c.close();
  }
}

/** The Postfix copies of one message (by its Subject) in an address's Maildir. */
const atLegacy = (address: string, subject: string): string[] =>
  mailboxMessages(pf.maildirRoot, address)
    .map((m) => m.toString('latin1'))
    .filter((m) => m.includes(`\nSubject: ${subject}\n`));

it('shadow mail reaches Postfix as received; the dry-run verdicts are recorded and reported, per domain and address', async () => {
  const queueIds = {} as Record<keyof typeof EXPECTED, string>;
  for (const kind of ['clean', 'gtube', 'eicar'] as const) {
    // The clean one also names an address the import lacks: 550 5.1.1 at RCPT, though Postfix would take it.
    const to = kind === 'clean' ? [...RECIPIENTS.slice(0, 3), NOT_IMPORTED, ...RECIPIENTS.slice(3)] : RECIPIENTS;
    const r = await send(to, MESSAGES[kind]);
    assert.deepEqual(
      r.rcpt.map(codeOf),
      to.map((a) => (a === NOT_IMPORTED ? 550 : 250)),
      `${kind}: ${r.rcpt.join(' | ')}`,
    );
    if (kind === 'clean') assert.match(r.rcpt[to.indexOf(NOT_IMPORTED)], /^550 5\.1\.1 /);
    assert.match(r.data, /^250 /, `${kind}: DATA`);
    queueIds[kind] = r.queueId;
  }
  assert.equal(mx.legacyProbe.stats.probes, 1, 'only the domain without imported addresses asks Postfix, once (then cached)');

  // (1) Each copy arrives at the legacy system once, as it was sent: only trace headers above it, no X-Spam header, no
  // subject prefix, the GTUBE and EICAR bodies intact (Postfix's Maildir stores LF line ends).
  const total = RECIPIENTS.length * 3;
  const delivered = () => db.prepare("SELECT count(*) FROM deliveries WHERE state = 'delivered'").pluck().get() as number;
  await waitFor(
    () => delivered() === total && pf.queueEmpty(),
    () => `${total} copies relayed (${delivered()} so far)`,
    {
      timeoutMs: 60_000,
      intervalMs: 50,
    },
  );
  await waitFor(
    () => RECIPIENTS.every((a) => Object.values(SUBJECTS).every((s) => atLegacy(a, s).length > 0)),
    'every copy in its Postfix Maildir',
    { timeoutMs: 30_000, intervalMs: 50 },
  );
  for (const address of RECIPIENTS)
    for (const kind of ['clean', 'gtube', 'eicar'] as const) {
      const copies = atLegacy(address, SUBJECTS[kind]);
      assert.equal(copies.length, 1, `${kind} at ${address} exactly once`);
      assert.ok(copies[0].endsWith(MESSAGES[kind].toString('latin1').replace(/\r\n/g, '\n')), `${kind} at ${address} unchanged`);
      assert.doesNotMatch(copies[0], /^X-Spam-/m);
    }
  assert.equal(mailboxMessages(pf.maildirRoot, NOT_IMPORTED).length, 0, 'the refused address got nothing');

  // (2) The node's event log: exactly one shadow-verdict per accepted recipient and message, as the table says.
  const expectedRows = (['clean', 'gtube', 'eicar'] as const).flatMap((kind) =>
    RECIPIENTS.map((address, i) => `${queueIds[kind]} ${address} ${EXPECTED[kind][i]} ${SUBJECTS[kind]}`),
  );
  const events = db.prepare("SELECT message_id, recipient, detail FROM events WHERE type = 'shadow-verdict'").all() as {
    message_id: string;
    recipient: string;
    detail: string;
  }[];
  const rows = events.map((e) => {
    const v = ShadowVerdict.parse(JSON.parse(e.detail).verdict);
    assert.equal(v.address, e.recipient);
    assert.equal(v.domain, e.recipient.split('@')[1]);
    return `${e.message_id} ${v.address} ${v.verdict}/${v.reason} ${v.sample.subject}`;
  });
  assert.deepEqual(rows.sort(), expectedRows.sort());
  const refused = db.prepare('SELECT type, reason FROM events WHERE recipient = ?').all(NOT_IMPORTED);
  assert.deepEqual(refused, [{ type: 'rejected', reason: 'unknown-user' }], 'the refused address: its rejection, no verdict');

  // (3) Shipped by the node's shipper, counted by the backend: GET /api/v1/mail/shadow equals the same table.
  shipper.start();
  const report = async () => ShadowReport.parse(await backend.api('GET', '/api/v1/mail/shadow'));
  const counted = async () => (await report()).domains.reduce((n, d) => n + d.tally.total, 0);
  await waitFor(async () => (await counted()) === total, 'the shadow verdicts counted at the backend', { intervalMs: 50 });

  const tally = new Map<string, number>();
  const bump = (key: string) => tally.set(key, (tally.get(key) ?? 0) + 1);
  for (const kind of ['clean', 'gtube', 'eicar'] as const)
    RECIPIENTS.forEach((address, i) => {
      const domain = address.split('@')[1];
      bump(`${domain} ${EXPECTED[kind][i]}`);
      bump(`${domain} ${EXPECTED[kind][i].split('/')[0]}`);
      bump(`${address} ${EXPECTED[kind][i]}`);
    });
  const got = await report();
  const reported = new Map<string, number>();
  for (const d of got.domains) {
    for (const r of d.tally.reasons) reported.set(`${d.domain} ${r.verdict}/${r.reason}`, r.count);
    for (const [verdict, n] of Object.entries(d.tally.verdicts)) if (n > 0) reported.set(`${d.domain} ${verdict}`, n);
    for (const a of d.addresses) for (const r of a.tally.reasons) reported.set(`${a.address} ${r.verdict}/${r.reason}`, r.count);
  }
  assert.deepEqual(Object.fromEntries([...reported].sort()), Object.fromEntries([...tally].sort()));
  assert.deepEqual(
    got.domains.map((d) => d.domain),
    [MOVING, PROBED],
  );

  // Samples: every verdict of the run (fewer than the report keeps), each with its message's Subject, never the body.
  const samples = got.domains.flatMap((d) =>
    d.samples.map((s) => `${s.queueId} ${s.address} ${s.verdict}/${s.reason} ${s.sample.subject}`),
  );
  assert.deepEqual(samples.sort(), expectedRows.sort());
  assert.ok(!JSON.stringify(got).includes('GTUBE-STANDARD'), 'no body in the report');
});
