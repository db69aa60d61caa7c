// Benchmark: the real `/` (FS#2733 + 200 tasks) from `npm start`'s server vs the same HTML as a file behind a private nginx, both under wrk.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBackendStore } from '#server/store/open.ts';
import { ensureSiteBuilt, REPO_ROOT } from '#server/site/build.ts';
import { addBenchTasks } from '../../test/support/busy-status.ts';

const CONNECTIONS = 64;
// One wrk thread by default: on a 2-CPU machine that leaves one core each to the load tool and the server under test.
const THREADS = Number(process.env.BENCH_THREADS ?? 1);
const DURATION = process.env.BENCH_DURATION ?? '10s';
const NGINX_WORKERS = process.env.BENCH_NGINX_WORKERS ?? '1';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function waitFor(url: string, child: ChildProcess, what: string): Promise<Response> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    try {
      const r = await fetch(url);
      if (r.ok) return r;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not answer at ${url}`);
}

interface WrkResult {
  rps: number;
  p50: string;
  p99: string;
  p50ms: number;
  p99ms: number;
  errors: string;
}

function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v);
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
}

function runWrk(url: string): WrkResult {
  const r = spawnSync('wrk', [`-t${THREADS}`, `-c${CONNECTIONS}`, `-d${DURATION}`, '--latency', url], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  const out = r.stdout;
  const p50 = /^\s*50%\s+(\S+)/m.exec(out)?.[1] ?? '?';
  const p99 = /^\s*99%\s+(\S+)/m.exec(out)?.[1] ?? '?';
  const errors = [/Socket errors:.*$/m.exec(out)?.[0], /Non-2xx or 3xx responses:.*$/m.exec(out)?.[0]].filter(Boolean).join('; ');
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]), p50, p99, p50ms: toMs(p50), p99ms: toMs(p99), errors };
}

const work = mkdtempSync(join(tmpdir(), 'tidings-bench-'));
// nginx started as root drops its workers to an unprivileged user, who must be able to read the page.
chmodSync(work, 0o755);
const children: ChildProcess[] = [];
try {
  await ensureSiteBuilt({ info: (m) => console.log(m) });
  const state = join(work, 'state');
  const db = openBackendStore(state);
  addBenchTasks(db, new Date());
  db.close();

  const appPort = await freePort();
  const app = spawn(process.execPath, ['server/main.ts'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      TIDINGS_STATE_DIR: state,
      TIDINGS_HTTP_PORT: String(appPort),
      TIDINGS_HTTP_HOST: '127.0.0.1',
      TIDINGS_LOG_LEVEL: 'warn',
    },
  });
  children.push(app);
  const appUrl = `http://127.0.0.1:${appPort}/`;
  const html = await (await waitFor(appUrl, app, 'tidings server')).text();

  const www = join(work, 'www');
  mkdirSync(www);
  mkdirSync(join(work, 'nginx-tmp'));
  writeFileSync(join(www, 'index.html'), html);
  const nginxPort = await freePort();
  const conf = join(work, 'nginx.conf');
  writeFileSync(
    conf,
    `
daemon off;
worker_processes ${NGINX_WORKERS};
pid ${work}/nginx.pid;
error_log ${work}/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${work}/nginx-tmp/body;
  proxy_temp_path ${work}/nginx-tmp/proxy;
  fastcgi_temp_path ${work}/nginx-tmp/fastcgi;
  uwsgi_temp_path ${work}/nginx-tmp/uwsgi;
  scgi_temp_path ${work}/nginx-tmp/scgi;
  types { text/html html; }
  sendfile on;
  keepalive_requests 100000;
  server {
    listen 127.0.0.1:${nginxPort};
    root ${www};
    location = / { try_files /index.html =404; }
  }
}
`,
  );
  const nginx = spawn('nginx', ['-c', conf, '-p', work, '-e', join(work, 'nginx-error.log')], { stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(nginx);
  const nginxUrl = `http://127.0.0.1:${nginxPort}/`;
  const peerHtml = await (await waitFor(nginxUrl, nginx, 'nginx')).text();
  if (peerHtml !== html) throw new Error('nginx does not serve the same HTML');

  console.log(
    `status page benchmark: GET / (${Buffer.byteLength(html)} bytes of HTML; FS#2733 + 200 tasks), wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION}, nginx worker_processes ${NGINX_WORKERS}, ${(await import('node:os')).availableParallelism()} CPUs`,
  );
  // Warm both (JIT, page cache), then measure each in turn with the same load tool and settings.
  spawnSync('wrk', ['-t1', '-c8', '-d2s', appUrl]);
  spawnSync('wrk', ['-t1', '-c8', '-d2s', nginxUrl]);
  const tidings = runWrk(appUrl);
  const peer = runWrk(nginxUrl);
  const row = (name: string, r: WrkResult) =>
    `${name.padEnd(10)} ${r.rps.toFixed(0).padStart(9)} req/s   p50 ${r.p50.padStart(8)}   p99 ${r.p99.padStart(8)}${r.errors ? `   (${r.errors})` : ''}`;
  console.log(row('tidings', tidings));
  console.log(row('nginx', peer));
  const ratio = tidings.rps / peer.rps;
  console.log(
    `ratio      ${(ratio * 100).toFixed(1)}% of nginx throughput (goal ≥ 50%); tidings p99 ${tidings.p99ms.toFixed(2)} ms (goal < 50 ms)`,
  );
  console.log(`goals: throughput ${ratio >= 0.5 ? 'met' : 'NOT met'}, p99 ${tidings.p99ms < 50 ? 'met' : 'NOT met'}`);
} finally {
  for (const c of children) if (c.exitCode === null && c.pid) process.kill(c.pid, 'SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  for (const c of children) if (c.exitCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
  rmSync(work, { recursive: true, force: true });
}
