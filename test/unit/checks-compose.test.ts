// The checks composed (mailsystem/checks/index.ts): what each client said becomes the policy's facts, the stored bytes
// lose forged result headers and gain ours, and the verdict record keeps what a quarantine shows. The clients are
// stand-ins here (each has real-server tests of its own); this is the mapping between them.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthVerdict } from '#mailsystem/checks/auth.ts';
import type { VirusVerdict } from '#mailsystem/checks/clamd.ts';
import { createChecks, uncheckedChecks } from '#mailsystem/checks/index.ts';
import type { SpamEnvelope, SpamVerdict } from '#mailsystem/checks/rspamd.ts';

const message = Buffer.from(
  'Authentication-Results: mx.test; dkim=pass header.d=bank.example\r\nX-Spam-Flag: NO\r\nFrom: a@bank.example\r\nSubject: hi\r\n\r\nbody\r\n',
);
const envelope = { ip: '192.0.2.1', helo: 'mail.bank.example', mailFrom: 'a@bank.example', rcpts: ['u@example.test'], queueId: 'Q1' };
const authDone: AuthVerdict = {
  status: 'done',
  spf: { result: 'pass', domain: 'bank.example' },
  dkim: [],
  dmarc: { result: 'fail', policy: 'reject', domain: 'bank.example' },
  arc: { result: 'none', instance: null },
  header: 'Authentication-Results: mx.test; spf=pass; dmarc=fail',
  ms: 3,
};

function parts(auth: AuthVerdict, spam: SpamVerdict, virus: VirusVerdict) {
  const seen: { spamMessage?: Buffer; spamEnvelope?: SpamEnvelope; virusMessage?: Buffer; authMessage?: Buffer } = {};
  return {
    seen,
    checks: createChecks({
      authServIds: ['mx.test'],
      auth: async (m) => {
        seen.authMessage = m;
        return auth;
      },
      spam: {
        check: async (m, e) => {
          seen.spamMessage = m;
          seen.spamEnvelope = e;
          return spam;
        },
        close: () => {},
      },
      virus: {
        scan: async (m) => {
          seen.virusMessage = m;
          return virus;
        },
        close: () => {},
      },
    }),
  };
}

describe('createChecks', () => {
  it('maps the answers to facts, scans without forged headers, stores with our Authentication-Results', async () => {
    const { checks, seen } = parts(
      authDone,
      { status: 'scored', score: 7, requiredScore: 15, action: 'add header', symbols: [{ name: 'X', score: 7 }], ms: 5 },
      { status: 'infected', name: 'Test.EICAR', ms: 2 },
    );
    const r = await checks({ message, envelope });
    assert.deepEqual(r.facts, {
      spam: { status: 'scored', score: 7, requiredScore: 15, action: 'add header' },
      virus: { status: 'infected', name: 'Test.EICAR' },
      dmarc: { status: 'checked', result: 'fail', policy: 'reject' },
    });
    assert.equal(seen.authMessage, message, 'authentication sees the message as received');
    for (const m of [seen.spamMessage, seen.virusMessage]) {
      assert.doesNotMatch(m?.toString() ?? '', /mx\.test; dkim=pass|X-Spam-Flag/, 'scanners never see headers claiming to be ours');
    }
    assert.deepEqual(
      seen.spamEnvelope?.authResults?.dmarc,
      authDone.status === 'done' ? authDone.dmarc : undefined,
      'rspamd gets our results',
    );
    assert.equal(
      r.message.toString(),
      'Authentication-Results: mx.test; spf=pass; dmarc=fail\r\nFrom: a@bank.example\r\nSubject: hi\r\n\r\nbody\r\n',
    );
    assert.deepEqual(r.verdict.virus, { result: 'infected', name: 'Test.EICAR', ms: 2 });
  });

  it('turns every client error into an error fact (the decision fails closed), and stores no Authentication-Results without one', async () => {
    const { checks } = parts(
      { status: 'error', reason: 'timeout', detail: 'slow', ms: 9 },
      { status: 'error', reason: 'garbage', detail: 'not json', ms: 1 },
      { status: 'error', reason: 'unavailable', detail: 'ECONNREFUSED', ms: 1 },
    );
    const r = await checks({ message, envelope });
    assert.deepEqual(r.facts, {
      spam: { status: 'error', reason: 'garbage' },
      virus: { status: 'error', reason: 'unavailable' },
      dmarc: { status: 'error', reason: 'timeout' },
    });
    assert.equal(r.message.toString(), 'From: a@bank.example\r\nSubject: hi\r\n\r\nbody\r\n');
  });

  it('scanning off: no facts, forged headers still removed', async () => {
    const r = await uncheckedChecks(['mx.test'])({ message, envelope });
    assert.deepEqual(r.facts, { spam: { status: 'off' }, virus: { status: 'off' }, dmarc: { status: 'off' } });
    assert.equal(r.message.toString(), 'From: a@bank.example\r\nSubject: hi\r\n\r\nbody\r\n');
  });
});
