// A self-signed certificate for STARTTLS on the embedded default, generated once into the state dir.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TlsMaterial {
  key: Buffer;
  cert: Buffer;
}

/**
 * MX-to-MX TLS is opportunistic and senders do not verify names, so a self-signed certificate
 * still buys encryption. Node cannot mint X.509 itself, hence the openssl CLI (Debian base).
 */
export function ensureSelfSignedCert(dir: string, commonName: string): TlsMaterial {
  const keyFile = join(dir, 'smtp-key.pem');
  const certFile = join(dir, 'smtp-cert.pem');
  if (!existsSync(keyFile) || !existsSync(certFile)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const cn = commonName.replace(/[^A-Za-z0-9.-]/g, '') || 'localhost';
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
        keyFile,
        '-out',
        certFile,
        '-days',
        '3650',
        '-subj',
        `/CN=${cn}`,
        '-addext',
        `subjectAltName=DNS:${cn}`,
      ],
      { stdio: 'ignore' },
    );
  }
  return { key: readFileSync(keyFile), cert: readFileSync(certFile) };
}
