// A private Dovecot LMTP server for tests (recipe: shared/docs/real-parts.md): temp dir, loopback port, stopped by pid.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, existsSync, readdirSync, readFileSync, rmSync, chownSync, chmodSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Dovecot {
  port: number;
  dir: string;
  /** The dovecot.conf of this instance, for `doveadm -c`. */
  conf: string;
  /** Message files in <domain>/<user>/Maildir/new (what Dovecot delivered). */
  delivered(mailbox: string): Buffer[];
  stop(): Promise<void>;
}

import { freePort } from './ports.ts';
export { freePort };

async function waitForPort(port: number, child: ChildProcess, logFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '(no log)';
  throw new Error(`dovecot did not listen on ${port} (exit ${child.exitCode}): ${log}`);
}

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
  const port = await freePort();
  const mail = opts.mailRoot ?? join(dir, 'mail');
  for (const d of ['run', 'state']) mkdirSync(join(dir, d));
  const { uid, gid } = mailUserIds();
  if (!opts.mailRoot) {
    mkdirSync(mail);
    chownSync(mail, uid, gid);
  }
  const conf = join(dir, 'dovecot.conf');
  writeFileSync(conf, `base_dir = ${dir}/run
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
`);
  const child = spawn('dovecot', ['-F', '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let spawnError: Error | undefined;
  child.on('error', (e) => { spawnError = e; });
  let stderr = '';
  child.stderr!.on('data', (c) => { stderr += c; });
  try {
    await waitForPort(port, child, join(dir, 'dovecot.log'), 10_000);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`${spawnError ? `cannot run dovecot (${spawnError.message}); install Debian dovecot-lmtpd. ` : ''}${(e as Error).message} ${stderr}`);
  }
  return {
    port,
    dir,
    conf,
    delivered(mailbox) {
      const [user, domain] = mailbox.toLowerCase().split('@');
      const d = join(mail, domain, user, 'Maildir', 'new');
      return existsSync(d) ? readdirSync(d).sort().map((f) => readFileSync(join(d, f))) : [];
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      // Dovecot removes master.pid on its way out; reusing the base_dir before that fails.
      for (let i = 0; i < 100 && existsSync(join(dir, 'run', 'master.pid')); i++) await new Promise((r) => setTimeout(r, 50));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
