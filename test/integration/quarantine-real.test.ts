// Issue 12's "Quarantine: release delivers exactly once; delete removes the bytes; retention prunes", with Debian's
// rspamd and clamd started by the test (fails, not skips, when one is missing): GTUBE and EICAR kept back under
// 'remove', their entries from the real verdicts, then the staff actions the backend hands out.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { QuarantineEntry } from '#data/contracts/quarantine.ts';
import type { DB } from '#data/db.ts';
import type { MailSystem } from '#mailsystem/app.ts';
import { type Clamd, EICAR, EICAR_SIGNATURE, mimeWithAttachment, startClamd } from '../support/clamd.ts';
import { gtubeMessage, HAM_ZONE, sendFromHamSender } from '../support/mail-corpus.ts';
import { type Harness, mailboxMessages, startHarness } from '../support/mx-harness.ts';
import { type Rspamd, startRspamd } from '../support/rspamd.ts';
import { realChecks } from '../support/real-checks.ts';
import { waitFor } from '../support/wait.ts';

const DAY = 86_400_000;
const MAILBOX = 'remove@example.test';

let rspamd: Rspamd;
let clamd: Clamd;
let h: Harness;
let dir: string;
let db: DB;
let mx: MailSystem;
let port: number;
let now = Date.now();
const clock = { now: () => now };

before(async () => {
  [rspamd, clamd] = await Promise.all([startRspamd({ zone: HAM_ZONE }), startClamd()]);
  const checks = realChecks({ rspamd, clamd, zone: HAM_ZONE, mtaName: 'mx.test' });
  h = await startHarness(
    {
      domains: ['example.test'],
      addresses: { [MAILBOX]: [{ kind: 'maildir', mailbox: MAILBOX }] },
      policies: { [MAILBOX]: { spam: 'remove' } },
    },
    { worker: { idlePollMs: 20 } },
    {
      clock,
      checks,
    },
  );
  ({ db, mx, port, dir } = h);
});

after(async () => {
  await h?.stop();
  await Promise.all([rspamd?.stop(), clamd?.stop()]);
});

/** The quarantined copy of the message accepted with this reply, and its entry as the event carries it. */
function quarantinedCopy(reply: string): { id: number; messageId: string; entry: QuarantineEntry } {
  const messageId = /queued as (\S+)/.exec(reply)?.[1] ?? '';
  const row = db.prepare("SELECT delivery_id AS id, detail FROM events WHERE type = 'quarantined' AND message_id = ?").get(messageId) as
    | { id: number; detail: string }
    | undefined;
  assert.ok(row, `a quarantined event for ${messageId}`);
  return { id: row.id, messageId, entry: QuarantineEntry.parse(JSON.parse(row.detail).entry) };
}
const stateOf = (id: number): string => db.prepare('SELECT state FROM deliveries WHERE id = ?').pluck().get(id) as string;
const eventsOf = (type: string, id: number): number =>
  db.prepare('SELECT count(*) FROM events WHERE type = ? AND delivery_id = ?').pluck().get(type, id) as number;

describe('quarantine with the real scanners', () => {
  let spam: ReturnType<typeof quarantinedCopy>;
  let virus: ReturnType<typeof quarantinedCopy>;

  it('GTUBE and EICAR are kept back under remove, each with its entry from the real verdict', async () => {
    const subject = '=?utf-8?q?Quartalszahlen_f=C3=BCr_K=C3=B6ln?=';
    spam = quarantinedCopy(await sendFromHamSender(port, MAILBOX, gtubeMessage({ subject, headers: ['X-Test-Marker: q-gtube'] })));
    assert.equal(spam.entry.subject, 'Quartalszahlen für Köln');
    assert.equal(spam.entry.recipient, MAILBOX);
    assert.ok((spam.entry.score ?? 0) >= 15, `rspamd's GTUBE score: ${spam.entry.score}`);
    assert.equal(spam.entry.symbols[0], 'GTUBE', `highest first: ${spam.entry.symbols.join(', ')}`);
    assert.equal(spam.entry.virus, null);

    virus = quarantinedCopy(await sendFromHamSender(port, MAILBOX, mimeWithAttachment(Buffer.from(EICAR), 'readme.com')));
    assert.ok(virus.entry.virus?.startsWith(EICAR_SIGNATURE), `clamd's signature name: ${virus.entry.virus}`);
    assert.equal(virus.entry.subject, 'the file you asked for');
    assert.equal(mailboxMessages(join(dir, 'mail'), MAILBOX).length, 0, 'nothing delivered');
  });

  it('release delivers exactly once; the virus cannot be released; delete removes the bytes; retention prunes', async () => {
    now += 2 * DAY;
    const results = await mx.applyQuarantineActions([
      { id: 1, deliveryId: spam.id, messageId: spam.messageId, action: 'release' },
      { id: 2, deliveryId: virus.id, messageId: virus.messageId, action: 'release' },
      { id: 1, deliveryId: spam.id, messageId: spam.messageId, action: 'release' },
    ]);
    assert.deepEqual(
      results.map((r) => r.result),
      ['released', 'virus-kept', 'not-quarantined'],
    );
    await waitFor(() => stateOf(spam.id) === 'delivered', 'the released GTUBE copy delivered');
    const inbox = mailboxMessages(join(dir, 'mail'), MAILBOX).map((m) => m.toString('latin1'));
    assert.equal(inbox.length, 1);
    assert.match(inbox[0], /X-Test-Marker: q-gtube/);
    assert.doesNotMatch(inbox[0], /^X-Spam-Flag/m, 'delivered as if clean, untagged');
    assert.equal(eventsOf('released', spam.id), 1);
    assert.equal(eventsOf('delivered', spam.id), 1);
    assert.equal(stateOf(virus.id), 'quarantined');

    // A second virus copy, left for the retention job.
    const old = quarantinedCopy(await sendFromHamSender(port, MAILBOX, mimeWithAttachment(Buffer.from(EICAR), 'again.com')));
    assert.deepEqual(
      (await mx.applyQuarantineActions([{ id: 3, deliveryId: virus.id, messageId: virus.messageId, action: 'delete' }])).map(
        (r) => r.result,
      ),
      ['deleted'],
    );
    assert.equal(mx.store.messageBody(virus.messageId).length, 0, 'the bytes are gone');
    assert.equal(eventsOf('purged', virus.id), 1);

    now += 31 * DAY;
    assert.equal(await mx.pruneQuarantine(), 1);
    assert.equal(stateOf(old.id), 'discarded');
    assert.equal(mx.store.messageBody(old.messageId).length, 0);
    assert.equal(db.prepare("SELECT reason FROM events WHERE type = 'purged' AND delivery_id = ?").pluck().get(old.id), 'retention');
    assert.equal(mailboxMessages(join(dir, 'mail'), MAILBOX).length, 1, 'still the one released copy');
  });
});
