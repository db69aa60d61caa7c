// A private Postfix on loopback (temp config dir, Maildir delivery), for benchmarks and migration tests.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive } from './child.ts';
import { isListening, type ReservedPort, reservePort } from './ports.ts';
import { waitFor } from './wait.ts';

/** Postfix's master stops its daemons and exits within a few seconds of SIGTERM (`postfix stop` waits 5 s, then kills silently). */
const POSTFIX_DRAIN_MS = 15_000;

export interface PostfixOptions {
  dir: string;
  /** A reserved port (ports.ts reservePort): Postfix binds port 0 but never says which port it got. */
  port: number;
  domain: string;
  /** Local parts delivered to <dir>/mail/<domain>/<local>/Maildir/ by virtual(8). */
  mailboxes: string[];
  /** Further domains it hosts, each with its local parts, delivered the same way (<dir>/mail/<domain>/<local>/Maildir/). */
  moreDomains?: Record<string, string[]>;
  processLimit?: number;
}

export interface PostfixInstance {
  dir: string;
  port: number;
  maildirRoot: string;
  /** The master process id (children are its descendants). */
  masterPid(): number;
  queueEmpty(): boolean;
  /** SIGTERM to the master; it must be gone within the drain time, or this throws. */
  stop(): Promise<void>;
}

// Core services of Debian's master.cf; the pipe transports name users this machine lacks.
const SERVICES = new Set([
  'smtp',
  'pickup',
  'cleanup',
  'qmgr',
  'tlsmgr',
  'rewrite',
  'bounce',
  'defer',
  'trace',
  'verify',
  'flush',
  'proxymap',
  'proxywrite',
  'relay',
  'showq',
  'error',
  'retry',
  'discard',
  'local',
  'virtual',
  'lmtp',
  'anvil',
  'scache',
  'postlog',
]);

function masterCf(port: number): string {
  const out: string[] = [];
  let keep = false;
  for (const line of readFileSync('/etc/postfix/master.cf', 'utf8').split('\n')) {
    if (/^\s*#/.test(line) || line.trim() === '') continue;
    if (/^\s/.test(line)) {
      if (keep) out.push(line);
      continue;
    }
    const cols = line.split(/\s+/);
    keep = SERVICES.has(cols[0]);
    if (!keep) continue;
    if (cols[0] === 'smtp' && cols[1] === 'inet') cols[0] = `127.0.0.1:${port}`;
    cols[4] = 'n'; // no chroot: the temp dirs are not prepared for it
    out.push(cols.join('\t'));
  }
  return `${out.join('\n')}\n`;
}

export function startPostfix(opts: PostfixOptions): PostfixInstance {
  const { dir } = opts;
  const etc = join(dir, 'etc');
  const maildirRoot = join(dir, 'mail');
  for (const d of [etc, join(dir, 'queue'), join(dir, 'data'), maildirRoot]) mkdirSync(d, { recursive: true });
  // Postfix's daemons run as the postfix user and must reach the queue (mkdtemp makes 0700 dirs;
  // the caller's parent directory has to be traversable too).
  chmodSync(dir, 0o755);
  const uid = Number(execFileSync('id', ['-u', 'nobody']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'nobody']).toString().trim());
  const postfixUid = Number(execFileSync('id', ['-u', 'postfix']).toString().trim());
  chownSync(join(dir, 'data'), postfixUid, -1);
  chownSync(maildirRoot, uid, gid);
  const domains: Record<string, string[]> = { [opts.domain]: opts.mailboxes, ...opts.moreDomains };
  const vmailbox = Object.entries(domains).flatMap(([domain, locals]) => locals.map((l) => `${l}@${domain} ${domain}/${l}/Maildir/`));
  writeFileSync(join(etc, 'vmailbox'), `${vmailbox.join('\n')}\n`);
  const mainCf = [
    'compatibility_level = 3.6',
    `queue_directory = ${dir}/queue`,
    `data_directory = ${dir}/data`,
    'mail_owner = postfix',
    'setgid_group = postdrop',
    'myhostname = legacy.test',
    'mydestination =',
    `virtual_mailbox_domains = ${Object.keys(domains).join(', ')}`,
    `virtual_mailbox_base = ${maildirRoot}`,
    `virtual_mailbox_maps = texthash:${etc}/vmailbox`,
    `virtual_uid_maps = static:${uid}`,
    `virtual_gid_maps = static:${gid}`,
    'virtual_minimum_uid = 1',
    'inet_interfaces = 127.0.0.1',
    'inet_protocols = ipv4',
    `maillog_file = ${dir}/maillog`,
    `maillog_file_prefixes = ${dir}`,
    'mynetworks = 127.0.0.0/8',
    'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination',
    'smtpd_peername_lookup = no',
    'disable_dns_lookups = yes',
    'alias_maps =',
    'alias_database =',
    'biff = no',
    `default_process_limit = ${opts.processLimit ?? 150}`,
  ];
  writeFileSync(join(etc, 'main.cf'), `${mainCf.join('\n')}\n`);
  writeFileSync(join(etc, 'master.cf'), masterCf(opts.port));
  execFileSync('postfix', ['-c', etc, 'start'], { stdio: 'ignore' });
  const pidFile = join(dir, 'queue', 'pid', 'master.pid');
  return {
    dir,
    port: opts.port,
    maildirRoot,
    masterPid: () => Number(readFileSync(pidFile, 'utf8').trim()),
    queueEmpty() {
      // Messages still in Postfix's own queue directories (incoming/active/deferred/maildrop).
      for (const q of ['incoming', 'active', 'deferred', 'maildrop', 'hold']) {
        const p = join(dir, 'queue', q);
        if (!existsSync(p)) continue;
        const stack = [p];
        while (stack.length) {
          const d = stack.pop()!;
          for (const e of readdirSync(d, { withFileTypes: true })) {
            if (e.isDirectory()) stack.push(join(d, e.name));
            else return false;
          }
        }
      }
      return true;
    },
    async stop() {
      // What `postfix stop` does, without its silent SIGKILL after 5 s: a master that will not stop is a failure.
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      if (!pidAlive(pid)) return;
      process.kill(pid, 'SIGTERM');
      await waitFor(() => !pidAlive(pid), `the Postfix master (pid ${pid}) to exit after SIGTERM`, {
        timeoutMs: POSTFIX_DRAIN_MS,
        intervalMs: 50,
      });
    },
  };
}

/**
 * The old MX of the migration tests: a Postfix in `parent`/postfix on a reserved port, listening when this
 * resolves. `parent` is made traversable for Postfix's daemons (user postfix). Stop `pf`, then release the port.
 */
export async function startLegacyPostfix(
  parent: string,
  opts: Omit<PostfixOptions, 'dir' | 'port'>,
): Promise<{ pf: PostfixInstance; reserved: ReservedPort }> {
  chmodSync(parent, 0o755);
  const reserved = await reservePort();
  let pf: PostfixInstance | undefined;
  try {
    pf = startPostfix({ dir: join(parent, 'postfix'), port: reserved.port, ...opts });
    await waitFor(() => isListening(reserved.port), 'Postfix to listen', { timeoutMs: 30_000, intervalMs: 50 });
    return { pf, reserved };
  } catch (err) {
    await pf?.stop();
    reserved.release();
    throw err;
  }
}
