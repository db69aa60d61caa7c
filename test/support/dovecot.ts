// A private Dovecot LMTP server for tests (recipe: shared/docs/real-parts.md): temp dir, reserved loopback port, stopped by pid.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, existsSync, readdirSync, readFileSync, rmSync, chownSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killHard, stopCleanly } from './child.ts';
import { isListening, reservePort } from './ports.ts';
import { waitFor } from './wait.ts';

export interface Dovecot {
  port: number;
  dir: string;
  /** The dovecot.conf of this instance, for `doveadm -c`. */
  conf: string;
  /** Message files in <domain>/<user>/Maildir/new (what Dovecot delivered). */
  delivered(mailbox: string): Buffer[];
  /** SIGTERM; asserts exit code 0 within the drain time, then frees the port and the folder. */
  stop(): Promise<void>;
}

/**
 * Dovecot's master waits up to 6 s for its service processes on SIGTERM (an lmtp process that served a
 * connection a moment ago takes that long), then exits 0; beyond this it is stuck.
 */
const DOVECOT_DRAIN_MS = 15_000;

export interface DovecotOptions {
  /**
   * Serve an existing <root>/<domain>/<user>/Maildir store (e.g. the built-in one) instead of a
   * fresh one. The caller makes it readable for the `mail` user (see mailUserIds).
   */
  mailRoot?: string;
  /** Extra dovecot.conf lines, e.g. `mail_save_crlf = yes`. */
  extraConfig?: string;
}

/** Dovecot refuses uid 0 for mail, so stores it reads belong to the `mail` user. */
export function mailUserIds(): { uid: number; gid: number } {
  return {
    uid: Number(execFileSync('id', ['-u', 'mail']).toString().trim()),
    gid: Number(execFileSync('id', ['-g', 'mail']).toString().trim()),
  };
}

/** Starts Dovecot LMTP; throws (so the test fails) when Dovecot is missing or will not start. */
export async function startDovecot(opts: DovecotOptions = {}): Promise<Dovecot> {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-dovecot-'));
  // mkdtemp makes the folder 0700; the mail user must be able to walk into it.
  chmodSync(dir, 0o755);
  // Dovecot reads port 0 as "no listener", so it gets a reserved port (ports.ts).
  const reserved = await reservePort();
  const port = reserved.port;
  const mail = opts.mailRoot ?? join(dir, 'mail');
  for (const d of ['run', 'state']) mkdirSync(join(dir, d));
  const { uid, gid } = mailUserIds();
  if (!opts.mailRoot) {
    mkdirSync(mail);
    chownSync(mail, uid, gid);
  }
  const conf = join(dir, 'dovecot.conf');
  writeFileSync(
    conf,
    `base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
protocols = lmtp
ssl = no
mail_location = maildir:${mail}/%d/%n/Maildir
mail_uid = mail
mail_gid = mail
first_valid_uid = ${Math.min(uid, 8)}
userdb {
  driver = static
  args = uid=mail gid=mail home=${mail}/%d/%n allow_all_users=yes
}
passdb {
  driver = static
  args = nopassword=y
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${port}
  }
}
service anvil {
  chroot =
}
${opts.extraConfig ?? ''}
`,
  );
  const child = spawn('dovecot', ['-F', '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let spawnError: Error | undefined;
  child.on('error', (e) => {
    spawnError = e;
  });
  let stderr = '';
  child.stderr!.on('data', (c) => {
    stderr += c;
  });
  const logFile = join(dir, 'dovecot.log');
  const log = (): string => `${existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '(no log)'} ${stderr}`;
  try {
    await waitFor(
      async () => {
        if (spawnError || child.exitCode !== null) throw new Error(`dovecot exited (${child.exitCode}) before listening on ${port}`);
        return isListening(port);
      },
      `dovecot listening on ${port}`,
      { timeoutMs: 30_000, intervalMs: 50 },
    );
  } catch (e) {
    if (!spawnError) await killHard(child);
    reserved.release();
    throw new Error(
      `${spawnError ? `cannot run dovecot (${spawnError.message}); install Debian dovecot-lmtpd. ` : ''}${(e as Error).message}: ${log()}`,
    );
  }
  return {
    port,
    dir,
    conf,
    delivered(mailbox) {
      const [user, domain] = mailbox.toLowerCase().split('@');
      const d = join(mail, domain, user, 'Maildir', 'new');
      return existsSync(d)
        ? readdirSync(d)
            .sort()
            .map((f) => readFileSync(join(d, f)))
        : [];
    },
    async stop() {
      try {
        await stopCleanly(child, 'dovecot', DOVECOT_DRAIN_MS, { output: log });
      } finally {
        reserved.release();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
