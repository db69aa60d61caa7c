// The port reservation that parallel test files rely on (test/support/ports.ts): no two holders, never a port the
// kernel could hand out for a port-0 bind or a client, and a lock left by a dead process is taken over.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { exitOf, killHard, readLines } from '../support/child.ts';
import { ephemeralRangeStart, PORT_LOCK_DIR, reservePort } from '../support/ports.ts';

const PORTS_MODULE = join(import.meta.dirname, '..', 'support', 'ports.ts');
const children: ChildProcess[] = [];
after(async () => {
  for (const c of children) await killHard(c);
});

/**
 * Another test process reserving `count` ports at once from the range: prints them, holds them until its
 * stdin closes, then exits 0 (the exit releases them).
 */
async function reserveElsewhere(
  count: number,
  range: { from: number; to: number },
): Promise<{ ports: number[]; error: string | null; child: ChildProcess }> {
  const script = `
import { reservePort } from ${JSON.stringify(PORTS_MODULE)};
const got = await Promise.allSettled(Array.from({ length: ${count} }, () => reservePort(${JSON.stringify(range)})));
console.log('PORTS ' + JSON.stringify(got.map((r) => (r.status === 'fulfilled' ? r.value.port : String(r.reason.message)))));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  const lines = readLines(child, child.stdout!, child.stderr!);
  const got = await lines.next(
    (line) => (line.startsWith('PORTS ') ? (JSON.parse(line.slice(6)) as (number | string)[]) : undefined),
    'the reserved ports',
  );
  const errors = got.filter((g) => typeof g === 'string');
  return { ports: got.filter((g) => typeof g === 'number'), error: errors.length ? errors.join('; ') : null, child };
}

/** Closing stdin ends the holder; its exit must be clean. */
async function endHolder(child: ChildProcess): Promise<void> {
  child.stdin!.end();
  assert.deepEqual(await exitOf(child), { code: 0, signal: null });
}

/** A range of 30 ports in the reserved area: tight enough that concurrent holders must meet in it. */
function narrowRange(): { from: number; to: number } {
  const top = ephemeralRangeStart() - 1;
  const from = 20_000 + Math.floor(Math.random() * (top - 20_000 - 30));
  return { from, to: from + 29 };
}

test('processes reserving at once from the same 30 ports never get the same one; their exit releases them', async () => {
  const range = narrowRange();
  const [a, b, own] = await Promise.all([
    reserveElsewhere(5, range),
    reserveElsewhere(5, range),
    Promise.all(Array.from({ length: 5 }, () => reservePort(range))),
  ]);
  assert.equal(a.error, null);
  assert.equal(b.error, null);
  const all = [...a.ports, ...b.ports, ...own.map((r) => r.port)];
  assert.equal(all.length, 15);
  assert.equal(new Set(all).size, 15, `a port handed out twice: ${all.join(', ')}`);
  for (const p of all) assert.ok(p >= range.from && p <= range.to, `${p} outside ${range.from}..${range.to}`);
  await Promise.all([endHolder(a.child), endHolder(b.child)]);
  for (const p of [...a.ports, ...b.ports])
    assert.equal(existsSync(join(PORT_LOCK_DIR, String(p))), false, `the lock of ${p} outlived its holder`);
  for (const r of own) r.release();
});

test("a reserved port lies below the kernel's ephemeral range, and it can be bound", async () => {
  const r = await reservePort();
  try {
    assert.ok(r.port >= 1024 && r.port < ephemeralRangeStart(), `${r.port} is not below the ephemeral range (${ephemeralRangeStart()})`);
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(r.port, '127.0.0.1', () => resolve());
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
  } finally {
    r.release();
  }
  assert.equal(existsSync(join(PORT_LOCK_DIR, String(r.port))), false, 'release() removes the lock');
});

test('a lock whose holder died is taken over by exactly one of two processes trying at once; a live holder keeps its port', async () => {
  const r = await reservePort();
  const only = { from: r.port, to: r.port };
  // A live holder (this process): nobody else gets the port.
  const blocked = await reserveElsewhere(1, only);
  assert.deepEqual(blocked.ports, []);
  assert.match(blocked.error ?? '', /no port .* is free/);
  await endHolder(blocked.child);
  // The holder dies without releasing: its lock names a pid that no longer runs.
  const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)']).stdout.toString().trim();
  writeFileSync(join(PORT_LOCK_DIR, String(r.port)), dead);
  const [x, y] = await Promise.all([reserveElsewhere(1, only), reserveElsewhere(1, only)]);
  assert.deepEqual([...x.ports, ...y.ports], [r.port], `one of them took over the stale lock (errors: ${x.error}; ${y.error})`);
  await Promise.all([endHolder(x.child), endHolder(y.child)]);
  assert.equal(existsSync(join(PORT_LOCK_DIR, String(r.port))), false);
});
