// ensureSiteBuilt in several processes at once (every test file and `npm start` call it): one process runs the
// build, the others wait for it and find it fresh; a lock left by a process that is gone is taken over.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureSiteBuilt, REPO_ROOT } from '#server/site/build.ts';
import { exitOf, killHard, readLines } from '../support/child.ts';
import { waitFor } from '../support/wait.ts';

const temps: string[] = [];
const children: ChildProcess[] = [];
after(async () => {
  for (const c of children) await killHard(c);
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

/**
 * A repository whose "astro build" is a stand-in: it logs its start, waits until the test creates `go`
 * (so the test decides how long the build lasts), writes the entry and logs its end.
 */
function fakeRepo(): string {
  const root = mkdtempSync(join(tmpdir(), 'tidings-build-lock-'));
  temps.push(root);
  for (const d of ['site/pages', 'data/contracts', 'node_modules/astro/bin']) mkdirSync(join(root, d), { recursive: true });
  const old = new Date(Date.now() - 3600_000);
  for (const f of ['site/pages/index.astro', 'astro.config.mjs', 'data/contracts/status.ts', 'package-lock.json']) {
    writeFileSync(join(root, f), 'x');
    utimesSync(join(root, f), old, old);
  }
  for (const d of ['site/pages', 'site', 'data/contracts', 'data']) utimesSync(join(root, d), old, old);
  writeFileSync(
    join(root, 'node_modules/astro/bin/astro.mjs'),
    `
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
appendFileSync('builds.log', 'start ' + process.pid + '\\n');
// The build lasts until the test says so (a file, looked for every 20 ms: this is the stand-in's work),
// or until the test has removed the repository (it failed and cleaned up).
while (!existsSync('go')) {
  if (!existsSync('builds.log')) process.exit(1);
  await new Promise((r) => setTimeout(r, 20));
}
mkdirSync('dist/site/server', { recursive: true });
writeFileSync('dist/site/server/entry.mjs', '');
appendFileSync('builds.log', 'end ' + process.pid + '\\n');
`,
  );
  return root;
}

const builds = (root: string): string[] =>
  existsSync(join(root, 'builds.log')) ? readFileSync(join(root, 'builds.log'), 'utf8').trim().split('\n') : [];

test('three processes at once: one builds, two wait for it and find the build fresh', async () => {
  const root = fakeRepo();
  const script = `
import { ensureSiteBuilt } from ${JSON.stringify(join(REPO_ROOT, 'server/site/build.ts'))};
const built = await ensureSiteBuilt({ info: (m) => console.log(m) }, { root: ${JSON.stringify(root)}, outDir: ${JSON.stringify(join(root, 'dist', 'site'))}, lockPollMs: 20 });
console.log('RESULT ' + built);
`;
  const procs = Array.from({ length: 3 }, () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    return { child, lines: readLines(child, child.stdout!, child.stderr!) };
  });
  // The build runs (and cannot finish) while the two others say they wait for it.
  await waitFor(() => builds(root).length >= 1, 'the build to start', 60_000);
  const waiting = (): number => procs.filter((p) => p.lines.text().includes('site: waiting for the build of another process')).length;
  await waitFor(
    () => waiting() === 2,
    () => `two processes waiting for the build (${waiting()}); output:\n${procs.map((p) => p.lines.text()).join('\n---\n')}`,
    60_000,
  );
  assert.equal(builds(root).length, 1, `one build at a time: ${builds(root).join(', ')}`);
  writeFileSync(join(root, 'go'), '');
  const results = await Promise.all(
    procs.map(async (p) => {
      const result = await p.lines.next((line) => /^RESULT (true|false)$/.exec(line)?.[1], 'the RESULT line');
      assert.equal((await exitOf(p.child)).code, 0, p.lines.text());
      return result;
    }),
  );
  assert.deepEqual(results.sort(), ['false', 'false', 'true'], 'one process built, the others found its build');
  assert.deepEqual(
    builds(root).map((l) => l.split(' ')[0]),
    ['start', 'end'],
    'exactly one build ran',
  );
  assert.equal(existsSync(join(root, 'dist', '.site.build-lock')), false, 'the lock is released');
});

test('a lock whose holder is gone (or whose pid now belongs to another process) is taken over', async () => {
  for (const holder of ['999999:1', `${process.pid}:1`]) {
    const root = fakeRepo();
    writeFileSync(join(root, 'go'), '');
    mkdirSync(join(root, 'dist'));
    writeFileSync(join(root, 'dist', '.site.build-lock'), holder);
    const built = await ensureSiteBuilt({ info: () => {} }, { root, outDir: join(root, 'dist', 'site'), lockPollMs: 20 });
    assert.equal(built, true, `built after taking over the lock of ${holder}`);
    assert.equal(builds(root).length, 2, 'one build');
    assert.equal(existsSync(join(root, 'dist', '.site.build-lock')), false, 'the lock is released');
  }
});
