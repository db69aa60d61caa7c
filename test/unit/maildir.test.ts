// Maildir transport: Dovecot layout, atomic tmp→new, and no duplicate on redelivery.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirSyncer, MaildirTransport, maildirFileName, maildirPath } from '#mailsystem/delivery/maildir.ts';
import type { DeliveryJob } from '#mailsystem/delivery/transport.ts';

const root = mkdtempSync(join(tmpdir(), 'tidings-maildir-'));
after(() => rmSync(root, { recursive: true, force: true }));

const job = (
  queueId: string,
  mailbox: string,
  attempt = 1,
  message = Buffer.from('Subject: x\r\n\r\n\x00\xff\r\n', 'latin1'),
): DeliveryJob => ({
  queueId,
  deliveryId: 1,
  envelopeFrom: 's@r.test',
  recipient: mailbox,
  route: { kind: 'maildir', mailbox },
  message,
  attempt,
});

describe('Maildir transport', () => {
  const t = new MaildirTransport({ root });

  it('writes <root>/<domain>/<localpart>/Maildir/new/<name> byte-exact, leaving tmp/ empty', async () => {
    const j = job('Q1', 'Alice@Example.TEST');
    assert.equal((await t.deliver(j)).kind, 'delivered');
    const dir = join(root, 'example.test', 'alice', 'Maildir');
    assert.deepEqual(readdirSync(dir).sort(), ['cur', 'new', 'tmp']);
    assert.deepEqual(readdirSync(join(dir, 'tmp')), []);
    const files = readdirSync(join(dir, 'new'));
    assert.deepEqual(files, [maildirFileName('Q1', 'Alice@Example.TEST', j.message.length)]);
    assert.ok(readFileSync(join(dir, 'new', files[0])).equals(j.message));
    assert.match(files[0], /,S=\d+$/, 'Dovecot reads the size from the name');
  });

  it('does not duplicate on redelivery, even after the user moved the message to cur/', async () => {
    const dir = join(root, 'example.test', 'bob', 'Maildir');
    await t.deliver(job('Q2', 'bob@example.test'));
    const out = await t.deliver(job('Q2', 'bob@example.test', 2));
    assert.equal(out.kind, 'delivered');
    assert.equal(readdirSync(join(dir, 'new')).length, 1);
    const name = readdirSync(join(dir, 'new'))[0];
    renameSync(join(dir, 'new', name), join(dir, 'cur', `${name}:2,S`));
    await t.deliver(job('Q2', 'bob@example.test', 3));
    assert.equal(readdirSync(join(dir, 'new')).length + readdirSync(join(dir, 'cur')).length, 1);
    // A different message to the same mailbox is a new file.
    await t.deliver(job('Q3', 'bob@example.test'));
    assert.equal(readdirSync(join(dir, 'new')).length, 1);
  });

  it('overwrites a torn tmp/ file left by a crash', async () => {
    const j = job('Q4', 'carol@example.test');
    const dir = join(root, 'example.test', 'carol', 'Maildir');
    await t.deliver(job('Q0', 'carol@example.test'));
    writeFileSync(join(dir, 'tmp', maildirFileName('Q4', 'carol@example.test', j.message.length)), 'torn');
    await t.deliver(j);
    const name = maildirFileName('Q4', 'carol@example.test', j.message.length);
    assert.ok(readFileSync(join(dir, 'new', name)).equals(j.message));
  });

  it('defers when the mailbox folder vanished, and recreates it on the retry', async () => {
    await t.deliver(job('Q6', 'dave@example.test'));
    rmSync(join(root, 'example.test', 'dave'), { recursive: true });
    assert.equal((await t.deliver(job('Q7', 'dave@example.test'))).kind, 'deferred');
    assert.equal((await t.deliver(job('Q7', 'dave@example.test', 2))).kind, 'delivered');
    assert.equal(readdirSync(join(root, 'example.test', 'dave', 'Maildir', 'new')).length, 1);
  });

  it('refuses mailbox names that would escape the store', async () => {
    assert.equal(maildirPath(root, '../../etc@example.test'), null);
    assert.equal(maildirPath(root, 'a@..'), null);
    assert.equal((await t.deliver(job('Q5', '..@example.test'))).kind, 'failed');
  });
});

describe('directory fsyncs', () => {
  it('share one fsync of new/ among the deliveries to a mailbox that arrive while one runs', async () => {
    const t = new MaildirTransport({ root: join(root, 'shared') });
    await t.deliver(job('W0', 'busy@example.test')); // creates the folders
    const before = t.dirSyncer.syncs;
    const outcomes = await Promise.all(Array.from({ length: 40 }, (_, i) => t.deliver(job(`W${i + 1}`, 'busy@example.test'))));
    assert.ok(outcomes.every((o) => o.kind === 'delivered'));
    assert.equal(readdirSync(join(root, 'shared', 'example.test', 'busy', 'Maildir', 'new')).length, 41);
    const syncs = t.dirSyncer.syncs - before;
    assert.ok(syncs >= 1 && syncs < 40, `40 concurrent deliveries to one mailbox took ${syncs} directory fsyncs`);
  });

  it('gives each caller an fsync that started after it asked', async () => {
    const dir = mkdtempSync(join(root, 'dirsync-'));
    const s = new DirSyncer();
    const first = s.sync(dir);
    const second = s.sync(dir); // asked while the first runs: served by a second fsync
    await Promise.all([first, second]);
    assert.equal(s.syncs, 2);
    await Promise.all([s.sync(dir), s.sync(join(dir, '..'))]);
    assert.equal(s.syncs, 4, 'different folders are synced separately');
  });

  it('rejects the callers of a failed fsync', async () => {
    const s = new DirSyncer();
    await assert.rejects(s.sync(join(root, 'no-such-folder')), { code: 'ENOENT' });
  });
});
