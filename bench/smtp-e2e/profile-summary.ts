// Summarizes a .cpuprofile of the Tidings process (BENCH_CPU_PROFILE=1 writes them to /tmp/prof): where the main
// thread's samples fall, by the innermost Tidings or smtp-server frame on the stack, and the top functions by self time.
// Usage: node bench/smtp-e2e/profile-summary.ts /tmp/prof/CPU.*.cpuprofile
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The first matching rule, tried from the innermost frame outwards, names a sample's category. */
const RULES: [string, (f: CallFrame) => boolean][] = [
  ['idle', (f) => f.functionName === '(idle)'],
  ['garbage collector', (f) => f.functionName === '(garbage collector)'],
  ['queue: SQLite (group-commit flushes: statements, BEGIN/COMMIT with its fsync, claims)', (f) => /mailsystem\/queue\//.test(f.url)],
  ['delivery: Maildir (fs calls dispatched to the pool)', (f) => /mailsystem\/delivery\/maildir\.ts/.test(f.url)],
  ['delivery: worker', (f) => /mailsystem\/delivery\//.test(f.url)],
  ['SMTP: smtp-server', (f) => /node_modules\/smtp-server\//.test(f.url)],
  ['SMTP: ingress', (f) => /mailsystem\/smtp\//.test(f.url)],
  ['telemetry', (f) => /mailsystem\/telemetry\//.test(f.url)],
  ['other Tidings code', (f) => /\/(mailsystem|data)\//.test(f.url)],
];

const BIN_S = 5;
const f0 = (n: number): string => n.toFixed(0);

for (const file of process.argv.slice(2)) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const categories = new Map<string, number>();
  const self = new Map<string, number>();
  let total = 0;
  // Per BIN_S seconds of the process's life: busy time and the categories, to see the load and the drain apart.
  const bins: Map<string, number>[] = [];
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    const b = Math.floor(total / 1e6 / BIN_S);
    bins[b] ??= new Map();
    const bin = bins[b];
    const leaf = byId.get(id)!.callFrame;
    const key = `${leaf.functionName || '(anonymous)'} ${leaf.url.replace(/^.*\/(node_modules|mailsystem|data|bench)\//, '$1/')}:${leaf.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    let category = 'other (Node internals, native)';
    find: for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const f = byId.get(n)!.callFrame;
      for (const [name, test] of RULES) {
        if (test(f)) {
          category = name;
          break find;
        }
      }
    }
    categories.set(category, (categories.get(category) ?? 0) + dt);
    bin.set(category, (bin.get(category) ?? 0) + dt);
  });
  const busy = total - (categories.get('idle') ?? 0);
  console.log(
    `${file}: ${(total / 1e6).toFixed(1)} s sampled, main thread busy ${(busy / 1e6).toFixed(1)} s (${((100 * busy) / total).toFixed(0)} %)`,
  );
  for (const [name, us] of [...categories].sort((a, b) => b[1] - a[1]))
    if (name !== 'idle') console.log(`  ${((100 * us) / busy).toFixed(1).padStart(5)} % of busy  ${name}`);
  console.log(`  per ${BIN_S} s: main thread busy %, and the share of the queue / Maildir / smtp-server in that second range`);
  bins.forEach((bin, i) => {
    const all = [...bin.values()].reduce((a, b) => a + b, 0);
    const idle = bin.get('idle') ?? 0;
    const share = (prefix: string) => [...bin].filter(([k]) => k.startsWith(prefix)).reduce((a, [, v]) => a + v, 0) / 1e4 / BIN_S;
    if (all - idle > 0.05 * all)
      console.log(
        `  ${String(i * BIN_S).padStart(4)} s  busy ${f0((100 * (all - idle)) / all).padStart(3)} %  queue ${f0(share('queue'))} %  Maildir ${f0(share('delivery: Maildir'))} %  smtp-server ${f0(share('SMTP: smtp'))} %`,
      );
  });
  console.log('  top functions by self time (% of busy):');
  for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25))
    if (!name.startsWith('(idle)')) console.log(`  ${((100 * us) / busy).toFixed(1).padStart(5)} %  ${name}`);
}
