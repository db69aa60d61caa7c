// A private clamd for tests (recipe: shared/docs/real-parts.md, "clamd"): temp dir, a one-line hash database holding
// the EICAR test file's md5 (freshclam is offline here), a reserved loopback port, stopped by process id. Also the
// test messages the virus checks scan: EICAR as a base64 MIME attachment, and inside a stored zip built by hand.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { killHard, stopCleanly } from './child.ts';
import { type ReservedPort, reservePort } from './ports.ts';
import { waitFor } from './wait.ts';

/** The 68-byte EICAR anti-virus test file. */
export const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';
/** local.hdb's line names it Test.EICAR.Local; clamd reports signatures from a local database with ".UNOFFICIAL". */
export const EICAR_SIGNATURE = 'Test.EICAR.Local';

/** Debian installs clamd in /usr/sbin, which a non-root PATH may lack. */
const CLAMD_BIN = existsSync('/usr/sbin/clamd') ? '/usr/sbin/clamd' : 'clamd';
/** clamd loads a one-line database in well under a second; the first start on a cold disk can take a few seconds. */
const START_TIMEOUT_MS = 60_000;
const STOP_DRAIN_MS = 15_000;

export interface Clamd {
  port: number;
  dir: string;
  /** The StreamMaxLength clamd runs with, in bytes. */
  streamMaxLength: number;
  /** SIGTERM, exit 0 asserted; then frees the port and the folder. Idempotent. */
  stop(): Promise<void>;
}

export interface ClamdOptions {
  /** clamd's StreamMaxLength in bytes (default 1 MiB, small so the size-limit path is cheap to reach). */
  streamMaxLength?: number;
  /** Listen on this reserved port, which the caller keeps (to restart clamd where its clients point); default a fresh one. */
  reserved?: ReservedPort;
}

/** Sends zPING and resolves with the reply up to its NUL ('' on any failure). */
export function clamdPing(port: number, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('zPING\0'));
    let reply = '';
    const done = (answer: string): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(''), timeoutMs);
    s.on('data', (d: Buffer) => {
      reply += d.toString('latin1');
      const nul = reply.indexOf('\0');
      if (nul >= 0) done(reply.slice(0, nul));
    });
    s.on('error', () => done(''));
    s.on('close', () => done(''));
  });
}

/** Starts clamd; throws (so the test fails, never skips) when clamd is not installed or does not answer PONG. */
export async function startClamd(opts: ClamdOptions = {}): Promise<Clamd> {
  const streamMaxLength = opts.streamMaxLength ?? 1024 * 1024;
  const dir = mkdtempSync(join(tmpdir(), 'tidings-clamd-'));
  mkdirSync(join(dir, 'db'));
  // md5:size:name; clamd matches the whole scanned file (or an attachment or archive member) by its hash.
  writeFileSync(join(dir, 'db', 'local.hdb'), `44d88612fea8a8f36de82e1278abb02f:68:${EICAR_SIGNATURE}\n`);
  // clamd cannot listen on port 0 and tell us the port: it gets a reserved one (ports.ts), held until it has stopped.
  const own = !opts.reserved;
  let reserved: ReservedPort | undefined = opts.reserved ?? (await reservePort());
  const port = reserved.port;
  const conf = join(dir, 'clamd.conf');
  writeFileSync(
    conf,
    [
      `DatabaseDirectory ${dir}/db`,
      `TCPSocket ${port}`,
      'TCPAddr 127.0.0.1',
      'Foreground yes',
      `LogFile ${dir}/clamd.log`,
      'LogTime yes',
      `PidFile ${dir}/clamd.pid`,
      'User root',
      `StreamMaxLength ${streamMaxLength}`,
      '',
    ].join('\n'),
  );
  const freePort = (): void => {
    if (own) reserved?.release();
    reserved = undefined;
  };

  const child: ChildProcess = spawn(CLAMD_BIN, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let spawnError: Error | undefined;
  child.on('error', (e) => {
    spawnError = e;
  });
  let stderr = '';
  child.stderr!.on('data', (c) => {
    stderr += c;
  });
  const logFile = join(dir, 'clamd.log');
  const output = (): string => `${existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-3000) : '(no log)'}\n${stderr}`;

  try {
    await waitFor(
      async () => {
        if (spawnError || child.exitCode !== null || child.signalCode !== null)
          throw new Error(`clamd exited (${child.exitCode ?? child.signalCode}) before answering PONG on ${port}`);
        return (await clamdPing(port, 500)) === 'PONG';
      },
      `clamd answering zPING with PONG on ${port}`,
      { timeoutMs: START_TIMEOUT_MS, intervalMs: 50 },
    );
  } catch (e) {
    if (!spawnError) await killHard(child);
    freePort();
    const text = output();
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `${spawnError ? `cannot run ${CLAMD_BIN} (${spawnError.message}); install Debian clamav-daemon. ` : ''}${(e as Error).message}\n${text}`,
    );
  }

  let stopping: Promise<void> | undefined;
  return {
    port,
    dir,
    streamMaxLength,
    stop() {
      stopping ??= (async () => {
        try {
          await stopCleanly(child, 'clamd', STOP_DRAIN_MS, { output });
        } finally {
          freePort();
          rmSync(dir, { recursive: true, force: true });
        }
      })();
      return stopping;
    },
  };
}

/** A multipart message carrying `attachment` (bytes) base64-encoded, as a mail client sends a file. */
export function mimeWithAttachment(attachment: Buffer, filename: string, contentType = 'application/octet-stream'): Buffer {
  const b64 = attachment
    .toString('base64')
    .replace(/.{1,76}/g, '$&\r\n')
    .trimEnd();
  return Buffer.from(
    [
      'From: Sender <sender@example.net>',
      'To: user@example.org',
      'Subject: the file you asked for',
      'Date: Wed, 02 Dec 2026 12:00:00 +0000',
      'Message-ID: <attachment-1@example.net>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="=-b0undary"',
      '',
      '--=-b0undary',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Hello, the file is attached.',
      '',
      '--=-b0undary',
      `Content-Type: ${contentType}; name="${filename}"`,
      'Content-Transfer-Encoding: base64',
      `Content-Disposition: attachment; filename="${filename}"`,
      '',
      b64,
      '--=-b0undary--',
      '',
    ].join('\r\n'),
  );
}

/** A plain message with a text body of about `bodyBytes` bytes. */
export function plainMessage(bodyBytes = 200, subject = 'lunch'): Buffer {
  const line = 'The quick brown fox jumps over the lazy dog, again and again.\r\n';
  const body = line.repeat(Math.max(1, Math.ceil(bodyBytes / line.length)));
  return Buffer.from(
    [
      'From: Friend <friend@example.net>',
      'To: user@example.org',
      `Subject: ${subject}`,
      'Date: Wed, 02 Dec 2026 12:00:00 +0000',
      'Message-ID: <plain-1@example.net>',
      '',
      body,
    ].join('\r\n'),
  );
}

/**
 * A zip archive holding `files` stored without compression (method 0): local headers, data, central directory, end
 * record. Enough for any unzip and for clamd's archive scanner; no zip tool needed.
 */
export function storedZip(files: { name: string; data: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  // 1980-01-01 00:00, the earliest DOS date.
  const dosTime = 0;
  const dosDate = (0 << 9) | (1 << 5) | 1;
  for (const file of files) {
    const name = Buffer.from(file.name, 'utf8');
    const crc = crc32(file.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0); // local file header signature
    local.writeUInt16LE(10, 4); // version needed: 1.0
    local.writeUInt16LE(0, 6); // flags
    local.writeUInt16LE(0, 8); // method: stored
    local.writeUInt16LE(dosTime, 10);
    local.writeUInt16LE(dosDate, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(file.data.length, 18); // compressed size
    local.writeUInt32LE(file.data.length, 22); // uncompressed size
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28); // extra length
    parts.push(local, name, file.data);

    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0); // central directory header signature
    entry.writeUInt16LE(20, 4); // version made by
    entry.writeUInt16LE(10, 6); // version needed
    entry.writeUInt16LE(0, 8);
    entry.writeUInt16LE(0, 10);
    entry.writeUInt16LE(dosTime, 12);
    entry.writeUInt16LE(dosDate, 14);
    entry.writeUInt32LE(crc, 16);
    entry.writeUInt32LE(file.data.length, 20);
    entry.writeUInt32LE(file.data.length, 24);
    entry.writeUInt16LE(name.length, 28);
    entry.writeUInt16LE(0, 30); // extra length
    entry.writeUInt16LE(0, 32); // comment length
    entry.writeUInt16LE(0, 34); // disk number
    entry.writeUInt16LE(0, 36); // internal attributes
    entry.writeUInt32LE(0, 38); // external attributes
    entry.writeUInt32LE(offset, 42); // offset of the local header
    central.push(entry, name);
    offset += local.length + name.length + file.data.length;
  }
  const centralBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); // end of central directory signature
  end.writeUInt16LE(0, 4);
  end.writeUInt16LE(0, 6);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(centralBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  end.writeUInt16LE(0, 20);
  return Buffer.concat([...parts, centralBytes, end]);
}
