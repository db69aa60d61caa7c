// STARTTLS sessions must leave nothing behind (issue 8, item 1): smtp-server swaps the session's socket
// for the TLS one on upgrade, and the session map used to forget an entry only when the raw socket
// closed — which never happens after STARTTLS. The map then grew with every TLS session, and a
// SIGTERM drain took those dead sessions for transactions in flight and waited out its deadline.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { exitOf } from '../support/child.ts';
import { RawSmtp } from '../support/smtp-client.ts';
import { maildirUsers } from '../support/fake-directory.ts';
import { mailboxMessages } from '../support/mx-harness.ts';
import { waitFor } from '../support/wait.ts';
import { MxChild, type MxProcessStats } from '../support/mx-child.ts';

const dirs: string[] = [];
const children: MxChild[] = [];
after(async () => {
  for (const c of children) await c.kill(); // cleanup after a failure: each test stops its child and checks the exit
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The product's drain deadline: a drain that waits for a leaked session takes this long. */
const DRAIN_DEADLINE_MS = 10_000;

async function startChild(stats = false): Promise<{ mx: MxChild; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-tls-leak-'));
  dirs.push(dir);
  const mx = new MxChild(dir, 0, maildirUsers(2), DRAIN_DEADLINE_MS, { tls: true, stats });
  children.push(mx);
  await mx.start();
  return { mx, dir };
}

/** One client context for all sessions (building one per connection costs more than the handshake). */
const clientContext = tls.createSecureContext({});

interface TlsSessionCache {
  ticket?: Buffer;
}

/** Greeting, EHLO, STARTTLS, handshake (resuming a cached TLS session when there is one), EHLO. */
async function startTls(port: number, localAddress = '127.0.0.1', cache: TlsSessionCache = {}): Promise<RawSmtp> {
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress }, () => resolve(s));
    s.once('error', reject);
  });
  const plain = RawSmtp.over(socket);
  assert.match((await plain.read())!, /^220 /);
  assert.match((await plain.cmd('EHLO client.test'))!, /STARTTLS/);
  assert.match((await plain.cmd('STARTTLS'))!, /^220 /);
  const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect(
      { socket: plain.detach(), rejectUnauthorized: false, servername: 'mx.test', session: cache.ticket, secureContext: clientContext },
      () => resolve(s),
    );
    s.once('session', (ticket: Buffer) => {
      cache.ticket = ticket;
    });
    s.once('error', reject);
  });
  const c = RawSmtp.over(secure);
  assert.match((await c.cmd('EHLO client.test'))!, /^250/);
  return c;
}

/** The session: EHLO, STARTTLS, EHLO, MAIL, RCPT, QUIT, and the server hangs up. */
async function tlsSessionThatQuits(port: number, localAddress?: string, cache?: TlsSessionCache): Promise<void> {
  const c = await startTls(port, localAddress, cache);
  c.write('MAIL FROM:<sender@remote.test>\r\nRCPT TO:<user0@example.test>\r\nQUIT\r\n');
  assert.match((await c.read())!, /^250 /);
  assert.match((await c.read())!, /^250 /);
  assert.match((await c.read())!, /^221 /);
  assert.equal(await c.read(), null, 'the server closes the connection after QUIT');
}

/**
 * Sessions in the leak run. The map must be empty afterwards whatever the count; the heap bound needs enough
 * sessions for a leak to show: the old code kept about 6.6 KB per session (10,500 sessions took the heap from
 * 18 to 87 MB), so 3,000 leaked sessions would be about 20 MB, five times the 4 MB allowed.
 */
const SESSIONS = 3_000;

describe('STARTTLS sessions leave no trace in the session map', () => {
  it(`${SESSIONS.toLocaleString('en')} STARTTLS sessions: the session map, the connection set and the heap are back to idle size`, async () => {
    const { mx } = await startChild(true);
    // Sources spread over 127.0.0.2-9 so the per-address cap (20) is not what limits the pace.
    const sources = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`);
    const perSource = 12;
    const run = async (total: number): Promise<void> => {
      let next = 0;
      const worker = async (source: string): Promise<void> => {
        const cache: TlsSessionCache = {};
        while (next < total) {
          next++;
          await tlsSessionThatQuits(mx.port, source, cache);
        }
      };
      await Promise.all(sources.flatMap((s) => Array.from({ length: perSource }, () => worker(s))));
    };
    await run(500); // warm-up: lazy allocations and JIT, so the baseline is the idle size of a used node
    const idle = await settledStats(mx, (s) => s.sessions + s.connections === 0);
    assert.equal(idle.sessions, 0, 'session map entries left after the warm-up');
    const t0 = Date.now();
    await run(SESSIONS);
    const elapsed = Date.now() - t0;
    // Upgrades that never complete: the client hangs up after the 220, or answers it with junk.
    for (const junk of [null, 'not a TLS ClientHello\r\n']) {
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          const c = await RawSmtp.connect(mx.port);
          await c.read();
          await c.cmd('EHLO client.test');
          assert.match((await c.cmd('STARTTLS'))!, /^220 /);
          if (junk === null) return c.close();
          c.write(junk);
          assert.equal(await c.read(), null, 'the server hangs up on a failed handshake');
        }),
      );
    }
    // The server hangs up after 221; its close handlers run right after.
    const stats = await settledStats(mx, (s) => s.sessions + s.connections === 0);
    process.stderr.write(`# ${SESSIONS} STARTTLS sessions in ${elapsed} ms; heap idle ${idle.heapUsed} -> ${stats.heapUsed}\n`);
    assert.equal(stats.sessions, 0, 'session map entries left after the sessions ended');
    assert.equal(stats.connections, 0, "smtp-server's connection set entries left");
    assert.ok(stats.heapUsed - idle.heapUsed < 4 * 1024 * 1024, `heap grew by ${stats.heapUsed - idle.heapUsed} bytes`);
    // The per-address cap was released for every upgraded session: a full 20 still fit from one source.
    const full = await Promise.all(Array.from({ length: 20 }, () => startTls(mx.port, '127.0.0.2')));
    for (const c of full) c.close();
    assert.equal((await settledStats(mx, (s) => s.sessions === 0)).sessions, 0, 'the 20 sessions ended');
    await assertQuickExit(mx);
  });
});

describe('SIGTERM after STARTTLS sessions (real child process, 10 s drain deadline)', () => {
  it("the issue's three sessions, then SIGTERM: exit code 0 in under 1 s", async () => {
    const { mx } = await startChild();
    for (let i = 0; i < 3; i++) await tlsSessionThatQuits(mx.port);
    await assertQuickExit(mx);
  });

  it('a STARTTLS session in DATA at SIGTERM still gets its 250 first, then 421 4.3.2; the exit follows at once', async () => {
    const { mx, dir } = await startChild();
    for (let i = 0; i < 3; i++) await tlsSessionThatQuits(mx.port);
    const busy = await startTls(mx.port);
    assert.match((await busy.cmd('MAIL FROM:<sender@remote.test>'))!, /^250 /);
    assert.match((await busy.cmd('RCPT TO:<user1@example.test>'))!, /^250 /);
    assert.match((await busy.cmd('DATA'))!, /^354 /);
    busy.write('Subject: in flight at SIGTERM\r\n\r\nfirst half, ');
    const idle = await startTls(mx.port);
    const exited = exitOf(mx.proc!);
    process.kill(mx.proc!.pid!, 'SIGTERM');
    // The idle session's 421 says the drain has begun, with the busy session still in DATA.
    assert.match((await idle.read())!, /^421 4\.3\.2 /);
    busy.write('second half\r\n.\r\n');
    assert.match((await busy.read())!, /^250 2\.6\.0 Ok: queued as /);
    const answered = Date.now();
    assert.match((await busy.read())!, /^421 4\.3\.2 /);
    assert.deepEqual(await exited, { code: 0, signal: null });
    assert.ok(Date.now() - answered < 1000, `exit came ${Date.now() - answered} ms after the 250`);
    await waitFor(() => mailboxMessages(join(dir, 'mail'), 'user1@example.test').length === 1, 'the accepted message on disk');
  });
});

/** Reads the child's stats until `done` holds (closes finish a moment after the client sees them), at most 100 times. */
async function settledStats(mx: MxChild, done: (s: MxProcessStats) => boolean): Promise<MxProcessStats> {
  let stats = await mx.readStats();
  for (let i = 0; i < 100 && !done(stats); i++) stats = await mx.readStats();
  return stats;
}

/** SIGTERM with no session in a transaction: the drain has nothing to wait for. */
async function assertQuickExit(mx: MxChild): Promise<void> {
  const t0 = Date.now();
  await mx.stop(); // asserts exit code 0: a clean exit, not a kill
  const ms = Date.now() - t0;
  assert.ok(ms < 1000, `the exit took ${ms} ms`);
}
