// The nodemailer internal that mailsystem/delivery/nodemailer-lmtp.ts relies on (per-recipient LMTP replies): an upgrade
// that changes it fails here, by name, instead of every LMTP copy quietly getting the session's last reply.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { LMTP_REPLY_HANDLER, NODEMAILER_VERSION } from '#mailsystem/delivery/nodemailer-lmtp.ts';

test('the installed nodemailer is the version the LMTP reply hook was checked against', () => {
  const pkg = createRequire(import.meta.url).resolve('nodemailer/package.json');
  assert.equal((JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version, NODEMAILER_VERSION);
  // Pinned exactly, so an install cannot move it: an upgrade is a deliberate change that re-checks the hook.
  const ours = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };
  assert.equal(ours.dependencies.nodemailer, NODEMAILER_VERSION);
});

test(`${LMTP_REPLY_HANDLER.owner}.prototype.${LMTP_REPLY_HANDLER.name} is the method the hook wraps`, () => {
  const fn = (SMTPConnection.prototype as unknown as Record<string, unknown>)[LMTP_REPLY_HANDLER.name];
  assert.equal(typeof fn, 'function', 'the method is gone: re-check mailsystem/delivery/nodemailer-lmtp.ts');
  const sha256 = createHash('sha256')
    .update(Function.prototype.toString.call(fn as () => unknown))
    .digest('hex')
    .slice(0, 16);
  assert.equal(sha256, LMTP_REPLY_HANDLER.sha256, 'its source text changed: re-check mailsystem/delivery/nodemailer-lmtp.ts');
});
