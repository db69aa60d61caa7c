// The policy matrix of issue 12, with the real parts: every spam policy × virus policy × message (ham, GTUBE spam,
// EICAR attached, EICAR inside a zip) × target (a Maildir mailbox, an LMTP mailbox on Debian's Dovecot, a forward to
// an external provider, an alias with a mailbox and a forward). The reply and where each copy ends up must match the
// table below, and the provider (a loopback SMTP server) must never receive spam or a virus.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SpamPolicy, VirusPolicy } from '#data/contracts/mail-policy.ts';
import type { DB } from '#data/db.ts';
import { createMailSystem, type MailSystem } from '#mailsystem/app.ts';
import type { Route } from '#mailsystem/config/directory.ts';
import { createForwardTransport } from '#mailsystem/delivery/forward.ts';
import { createLmtpTransport } from '#mailsystem/delivery/lmtp.ts';
import { silentLog, systemClock } from '#mailsystem/deps.ts';
import { openNodeDatabase } from '#mailsystem/queue/open.ts';
import { createSrs } from '#mailsystem/srs/srs.ts';
import { type Clamd, EICAR, mimeWithAttachment, startClamd, storedZip } from '../support/clamd.ts';
import { zoneResolver } from '../support/dns-zone.ts';
import { type Dovecot, startDovecot } from '../support/dovecot.ts';
import { fakeDirectory } from '../support/fake-directory.ts';
import { gtubeMessage, HAM_ZONE, hamMessage, sendFromHamSender } from '../support/mail-corpus.ts';
import { mailboxMessages, testDsn } from '../support/mx-harness.ts';
import { type Rspamd, startRspamd } from '../support/rspamd.ts';
import { realChecks } from '../support/real-checks.ts';
import { type SmtpSink, startSmtpSink } from '../support/smtp-sink.ts';
import { waitFor } from '../support/wait.ts';

type Message = 'ham' | 'gtube' | 'eicar' | 'eicar-zip';
type Fate = 'delivered' | 'quarantined';
/** The reply, then what happens to a local copy (Maildir or LMTP) and to a copy for an external provider. */
type Row = { reply: 250 | 550 | 554; local?: Fate; external?: Fate };

const SPAM: SpamPolicy[] = ['deliver', 'tag', 'remove', 'reject'];
const VIRUS: VirusPolicy[] = ['remove', 'reject'];
const MESSAGES: Message[] = ['ham', 'gtube', 'eicar', 'eicar-zip'];
const TARGETS = ['maildir', 'lmtp', 'forward', 'alias'] as const;

const D: Row = { reply: 250, local: 'delivered', external: 'delivered' };
const SPAM_TO_LOCAL: Row = { reply: 250, local: 'delivered', external: 'quarantined' };
const KEPT: Row = { reply: 250, local: 'quarantined', external: 'quarantined' };
/** message → spam policy → virus policy → row. Written out, not computed, so it states the policy independently of decide(). */
const TABLE: Record<Message, Record<SpamPolicy, Record<VirusPolicy, Row>>> = {
  ham: {
    deliver: { remove: D, reject: D },
    tag: { remove: D, reject: D },
    remove: { remove: D, reject: D },
    reject: { remove: D, reject: D },
  },
  gtube: {
    deliver: { remove: SPAM_TO_LOCAL, reject: SPAM_TO_LOCAL },
    tag: { remove: SPAM_TO_LOCAL, reject: SPAM_TO_LOCAL },
    remove: { remove: KEPT, reject: KEPT },
    reject: { remove: { reply: 550 }, reject: { reply: 550 } },
  },
  eicar: {
    deliver: { remove: KEPT, reject: { reply: 554 } },
    tag: { remove: KEPT, reject: { reply: 554 } },
    remove: { remove: KEPT, reject: { reply: 554 } },
    reject: { remove: KEPT, reject: { reply: 554 } },
  },
  'eicar-zip': {
    deliver: { remove: KEPT, reject: { reply: 554 } },
    tag: { remove: KEPT, reject: { reply: 554 } },
    remove: { remove: KEPT, reject: { reply: 554 } },
    reject: { remove: KEPT, reject: { reply: 554 } },
  },
};

const ZONE = {
  ...HAM_ZONE,
  mx: { ...HAM_ZONE.mx, 'provider.example': [{ exchange: 'mx.provider.example', priority: 10 }] },
  a: { ...HAM_ZONE.a, 'mx.provider.example': ['127.0.0.1'] },
};

let rspamd: Rspamd;
let clamd: Clamd;
let dovecot: Dovecot;
let provider: SmtpSink;
let dir: string;
let db: DB;
let mx: MailSystem;
let port: number;

const local = (spam: SpamPolicy, virus: VirusPolicy, target: string): string => `${spam}-${virus}-${target}`;

before(async () => {
  [rspamd, clamd, dovecot, provider] = await Promise.all([
    startRspamd({ zone: HAM_ZONE }),
    startClamd(),
    startDovecot({ extraConfig: 'mail_save_crlf = yes' }),
    startSmtpSink(),
  ]);
  const addresses: Record<string, Route[]> = {};
  const policies: Record<string, { spam: SpamPolicy; virus: VirusPolicy }> = {};
  for (const spam of SPAM) {
    for (const virus of VIRUS) {
      for (const target of TARGETS) {
        const name = local(spam, virus, target);
        const address = `${name}@example.test`;
        const mailbox: Route = { kind: 'maildir', mailbox: address };
        const external: Route = { kind: 'forward', to: `${name}@provider.example` };
        addresses[address] =
          target === 'maildir'
            ? [mailbox]
            : target === 'lmtp'
              ? [{ kind: 'lmtp', mailbox: address, host: '127.0.0.1', port: dovecot.port }]
              : target === 'forward'
                ? [external]
                : [mailbox, external];
        policies[address] = { spam, virus };
      }
    }
  }
  dir = mkdtempSync(join(tmpdir(), 'tidings-policy-matrix-'));
  db = openNodeDatabase(join(dir, 'node.sqlite'));
  mx = createMailSystem(
    { smtpHost: '127.0.0.1', smtpPort: 0, maildirRoot: join(dir, 'mail'), serverName: 'mx.test', worker: { idlePollMs: 50 } },
    {
      db,
      directory: fakeDirectory({ domains: ['example.test'], addresses, policies }),
      clock: systemClock,
      log: silentLog,
      buildDsn: testDsn,
      checks: realChecks({ rspamd, clamd, zone: ZONE, timeoutMs: 15_000 }),
      transports: {
        lmtp: createLmtpTransport({ heloName: 'mx.test', timeoutMs: 10_000 }),
        forward: createForwardTransport({
          resolver: zoneResolver(ZONE),
          srs: createSrs({ domain: 'srs.example.test', secret: 'matrix-secret' }),
          clock: systemClock,
          heloName: 'mx.test',
          port: () => provider.port,
          timeoutMs: 10_000,
        }),
      },
    },
  );
  port = await mx.start();
});

after(async () => {
  await mx?.stop();
  db?.close();
  await Promise.all([rspamd?.stop(), clamd?.stop(), dovecot?.stop(), provider?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function message(kind: Message, marker: string): Buffer {
  const headers = [`X-Test-Marker: ${marker}`];
  switch (kind) {
    case 'ham':
      return hamMessage({ headers });
    case 'gtube':
      return gtubeMessage({ headers });
    case 'eicar':
      return Buffer.concat([Buffer.from(`${headers[0]}\r\n`), mimeWithAttachment(Buffer.from(EICAR), 'readme.com')]);
    case 'eicar-zip':
      return Buffer.concat([
        Buffer.from(`${headers[0]}\r\n`),
        mimeWithAttachment(storedZip([{ name: 'invoice.com', data: Buffer.from(EICAR) }]), 'invoice.zip', 'application/zip'),
      ]);
  }
}

const send = (to: string, bytes: Buffer): Promise<string> => sendFromHamSender(port, to, bytes);

describe('policy matrix with rspamd, clamd, Dovecot and an external provider', () => {
  it('every spam × virus policy × message × target: the reply and each copy as the table says', { timeout: 300_000 }, async () => {
    const sent: { marker: string; address: string; target: (typeof TARGETS)[number]; row: Row; queueId: string }[] = [];
    for (const kind of MESSAGES) {
      for (const spam of SPAM) {
        for (const virus of VIRUS) {
          for (const target of TARGETS) {
            const name = local(spam, virus, target);
            const marker = `${kind}/${name}`;
            const row = TABLE[kind][spam][virus];
            const reply = await send(`${name}@example.test`, message(kind, marker));
            assert.equal(Number(reply.slice(0, 3)), row.reply, `${marker}: ${reply}`);
            sent.push({ marker, address: `${name}@example.test`, target, row, queueId: /queued as (\S+)/.exec(reply)?.[1] ?? '' });
          }
        }
      }
    }
    await waitFor(
      () => (db.prepare("SELECT count(*) FROM deliveries WHERE state = 'queued'").pluck().get() as number) === 0,
      'queue empty',
      60_000,
    );
    const has = (copies: Buffer[], marker: string): boolean => copies.some((m) => m.includes(`X-Test-Marker: ${marker}\r\n`));
    const atProvider = (marker: string): boolean => provider.messages.some((m) => m.data.includes(`X-Test-Marker: ${marker}\r\n`));
    for (const s of sent) {
      const states = db.prepare('SELECT route_kind, state FROM deliveries WHERE message_id = ?').all(s.queueId) as {
        route_kind: string;
        state: string;
      }[];
      const stateOf = (kind: string): string | undefined => states.find((r) => r.route_kind === kind)?.state;
      const localKind = s.target === 'lmtp' ? 'lmtp' : 'maildir';
      if (s.target !== 'forward') {
        const stored =
          s.target === 'lmtp' ? has(dovecot.delivered(s.address), s.marker) : has(mailboxMessages(join(dir, 'mail'), s.address), s.marker);
        assert.equal(stored, s.row.local === 'delivered', `${s.marker}: local copy ${s.row.local ?? 'none'}`);
        assert.equal(stateOf(localKind), s.row.local, `${s.marker}: local delivery state`);
      }
      if (s.target === 'forward' || s.target === 'alias') {
        assert.equal(atProvider(s.marker), s.row.external === 'delivered', `${s.marker}: external copy ${s.row.external ?? 'none'}`);
        assert.equal(stateOf('forward'), s.row.external, `${s.marker}: forward state`);
      }
    }
    // The provider got ham only: never spam, never a virus.
    const kinds = new Set(provider.messages.map((m) => /X-Test-Marker: ([^/\r]+)\//.exec(m.data.toString('latin1'))?.[1]));
    assert.deepEqual([...kinds], ['ham']);
    assert.equal(provider.messages.length, SPAM.length * VIRUS.length * 2, 'one ham per forward and per alias');
  });
});
