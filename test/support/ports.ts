// Loopback ports for the real daemons that cannot bind port 0 and tell us the port (Dovecot, Postfix), and for
// a process that must come back on the same port after a restart (crash and restart tests).
//
// Why not "bind port 0, close, hand out the number" (the old freePort): with test files running in parallel,
// any other process may bind that number before the daemon does. Our own servers bind port 0 and report
// the port they got (READY lines, log lines); reservePort is for the rest:
// - The port comes from BELOW the kernel's ephemeral range (/proc/sys/net/ipv4/ip_local_port_range). The
//   kernel hands out ports for port-0 binds and outgoing connections only from that range, so no server of
//   another test and no client socket can ever be given a reserved port, also while its daemon restarts.
// - Test processes agree among themselves through one lock file per port in os.tmpdir()/tidings-test-ports,
//   created exclusively (link(2) of a file already holding our pid: the lock never exists without its pid).
//   A lock whose pid is dead is stale (a test process killed before its exit hook) and is taken over; the
//   taker first creates "<port>.takeover-<dead pid>" exclusively, so of several processes that find the same
//   stale lock exactly one removes it (and the dead holder can no longer touch it).
// - The port must also be bindable right now (something outside the test suite may listen there).
// - The holder releases it once its daemon has stopped, and in any case when its process exits.
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pidAlive } from './child.ts';

export const PORT_LOCK_DIR = join(tmpdir(), 'tidings-test-ports');
/** Reserved ports start here: above the well-known and most registered service ports. */
const RESERVED_FROM = 20_000;

export interface ReservedPort {
  port: number;
  /** Gives the port back (idempotent); call it after the daemon that used it has exited. */
  release(): void;
}

/** The first port of the kernel's ephemeral range: reserved ports stay below it. */
export function ephemeralRangeStart(): number {
  const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  return low;
}

/** Creates the lock holding our pid, or reports who holds it. */
function tryLock(lock: string): { ok: true } | { ok: false; holder: number } {
  const draft = `${lock}.draft-${process.pid}-${Math.random().toString(36).slice(2)}`;
  writeFileSync(draft, String(process.pid));
  try {
    linkSync(draft, lock);
    return { ok: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    let holder = NaN;
    try {
      holder = Number(readFileSync(lock, 'utf8'));
    } catch {
      /* released meanwhile: take it as held, try the next port */ holder = process.pid;
    }
    return { ok: false, holder };
  } finally {
    unlinkSync(draft);
  }
}

/** One attempt at a port: free, or held by a dead process and taken over by us alone. */
function claim(dir: string, port: number): boolean {
  const lock = join(dir, String(port));
  const first = tryLock(lock);
  if (first.ok) return true;
  if (Number.isInteger(first.holder) && first.holder > 0 && pidAlive(first.holder)) return false;
  try {
    writeFileSync(`${lock}.takeover-${first.holder}`, String(process.pid), { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false; // another process takes it over
    throw err;
  }
  try {
    unlinkSync(lock);
  } catch {
    /* gone already */
  }
  return tryLock(lock).ok;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Reserves a loopback port no other test process holds and nothing listens on, below the ephemeral range.
 * `range` narrows the candidates (for the reservation's own tests).
 */
export async function reservePort(range?: { from: number; to: number }): Promise<ReservedPort> {
  const limit = ephemeralRangeStart() - 1;
  const from = range?.from ?? RESERVED_FROM;
  const to = range?.to ?? limit;
  if (to > limit || from > to) throw new Error(`reservePort: ${from}..${to} is not below the ephemeral range (it starts at ${limit + 1})`);
  mkdirSync(PORT_LOCK_DIR, { recursive: true });
  const count = to - from + 1;
  const start = Math.floor(Math.random() * count);
  for (let i = 0; i < count; i++) {
    const port = from + ((start + i) % count);
    if (!claim(PORT_LOCK_DIR, port)) continue;
    const lock = join(PORT_LOCK_DIR, String(port));
    let held = true;
    const release = (): void => {
      if (!held) return;
      held = false;
      process.off('exit', release);
      try {
        if (readFileSync(lock, 'utf8') === String(process.pid)) unlinkSync(lock);
      } catch {
        /* already gone */
      }
    };
    process.on('exit', release);
    if (await canListen(port)) return { port, release };
    release();
  }
  throw new Error(`reservePort: no port in ${from}..${to} is free (locks in ${PORT_LOCK_DIR})`);
}

/** True when something accepts connections on the loopback port. */
export function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}
