// The real MX entry point applies its TIDINGS_* settings: an operator's certificate, implicit TLS, the size limit.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from '../support/ports.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'tidings-mx-settings-'));
let child: ChildProcess | undefined;
after(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

test('implicit TLS with the configured certificate, and SIZE from TIDINGS_SMTP_MAX_MESSAGE_BYTES', async () => {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-days', '1', '-subj', '/CN=operator-cert.test'], { stdio: 'ignore' });
  const port = await freePort();
  child = spawn(process.execPath, ['mailsystem/main.ts'], {
    cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, TIDINGS_STATE_DIR: join(dir, 'state'), TIDINGS_SMTP_PORT: String(port), TIDINGS_LOG_LEVEL: 'warn',
      TIDINGS_MX_HOSTNAME: 'mx.operator.test', TIDINGS_SMTP_TLS_CERT: cert, TIDINGS_SMTP_TLS_KEY: key,
      TIDINGS_SMTP_IMPLICIT_TLS: '1', TIDINGS_SMTP_MAX_MESSAGE_BYTES: '123456' },
  });
  await waitForPort(port, { timeoutMs: 30_000, child, what: 'mailsystem/main.ts' });
  const { subject, transcript } = await new Promise<{ subject: string; transcript: string }>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const peer = s.getPeerCertificate();
      let text = '';
      s.on('data', (b) => {
        text += b.toString();
        if (/^220 /m.test(text) && !text.includes('EHLO-SENT')) { text += 'EHLO-SENT\n'; s.write('EHLO client.test\r\n'); }
        if (/^250 /m.test(text)) { s.end('QUIT\r\n'); resolve({ subject: String(peer.subject?.CN), transcript: text }); }
      });
    });
    s.on('error', reject);
    setTimeout(() => reject(new Error('no EHLO reply over implicit TLS')), 10_000).unref();
  });
  assert.equal(subject, 'operator-cert.test', 'the operator\'s certificate, not the generated one');
  assert.match(transcript, /^250[- ]SIZE 123456\r?$/m);
  assert.doesNotMatch(transcript, /STARTTLS/, 'no STARTTLS offered inside implicit TLS');
  const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});
