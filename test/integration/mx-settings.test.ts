// The real MX entry point applies its TIDINGS_* settings: an operator's certificate, implicit TLS, the size limit.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killHard } from '../support/child.ts';
import { spawnMxMain, type MainNode } from '../support/mx-main.ts';

const dir = mkdtempSync(join(tmpdir(), 'tidings-mx-settings-'));
let node: MainNode | undefined;
after(async () => {
  if (node) await killHard(node.child);
  rmSync(dir, { recursive: true, force: true });
});

test('implicit TLS with the configured certificate, and SIZE from TIDINGS_SMTP_MAX_MESSAGE_BYTES', async () => {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=operator-cert.test',
    ],
    { stdio: 'ignore' },
  );
  node = await spawnMxMain({
    TIDINGS_STATE_DIR: join(dir, 'state'),
    TIDINGS_MX_HOSTNAME: 'mx.operator.test',
    TIDINGS_SMTP_TLS_CERT: cert,
    TIDINGS_SMTP_TLS_KEY: key,
    TIDINGS_SMTP_IMPLICIT_TLS: '1',
    TIDINGS_SMTP_MAX_MESSAGE_BYTES: '123456',
    TIDINGS_MX_BACKEND_URL: undefined,
    TIDINGS_MX_TOKEN: undefined,
  });
  const { port } = node;
  const { subject, transcript } = await new Promise<{ subject: string; transcript: string }>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const peer = s.getPeerCertificate();
      let text = '';
      s.on('data', (b) => {
        text += b.toString();
        if (/^220 /m.test(text) && !text.includes('EHLO-SENT')) {
          text += 'EHLO-SENT\n';
          s.write('EHLO client.test\r\n');
        }
        if (/^250 /m.test(text)) {
          s.end('QUIT\r\n');
          resolve({ subject: String(peer.subject?.CN), transcript: text });
        }
      });
    });
    s.on('error', reject);
    setTimeout(() => reject(new Error('no EHLO reply over implicit TLS')), 10_000).unref();
  });
  assert.equal(subject, 'operator-cert.test', "the operator's certificate, not the generated one");
  assert.match(transcript, /^250[- ]SIZE 123456\r?$/m);
  assert.doesNotMatch(transcript, /STARTTLS/, 'no STARTTLS offered inside implicit TLS');
  await node.stop();
});
