// Issue 13, the cutover under load: 5,000 messages over 20 SMTP sessions to three domains while each is switched
// legacy → shadow → active mid-stream, each in its own way — alpha by switches scheduled for a time, beta by staff
// switching it now, gamma by the phases of a task's deployment plan starting (the backend's job runs with an injected
// clock and comments the task) — then rolled back active → legacy the same ways under a second load. A real Postfix plays
// the old MX; the node syncs from the real backend app. Every message that got 250 is stored exactly once, in exactly one
// system, and no sender sees anything but 250/354.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createReplicaDirectory } from '#mailsystem/config/replica.ts';
import { createConfigSync } from '#mailsystem/config/sync.ts';
import { silentLog, systemClock } from '#mailsystem/deps.ts';
import { openNodeDatabase } from '#mailsystem/queue/open.ts';
import { runSwitches } from '#server/jobs/switches.ts';
import { runTransitions } from '#server/jobs/transitions.ts';
import { issueNodeToken } from '#server/services/mail/issueNodeToken.ts';
import { json, makeHarness } from './api-harness.ts';
import { runLoad, type LoadResult } from '../support/load.ts';
import { startReplicaNode } from '../support/mx-harness.ts';
import { startLegacyPostfix } from '../support/postfix.ts';
import { waitFor } from '../support/wait.ts';

const DOMAINS = ['alpha.test', 'beta.test', 'gamma.test'] as const;
const LOCALS = Array.from({ length: 10 }, (_, i) => `u${i}`);
const recipientFor = (i: number) => `${LOCALS[Math.floor(i / 3) % LOCALS.length]}@${DOMAINS[i % 3]}`;
const LONG = { timeoutMs: 180_000, intervalMs: 50 };

/** Test id → how many stored copies, over every Maildir under root (root/<domain>/<local>/Maildir/{new,cur}). */
function storedIds(root: string, into: Map<string, { system: string; domain: string }[]>, system: string): void {
  if (!existsSync(root)) return;
  for (const domain of readdirSync(root))
    for (const local of readdirSync(join(root, domain)))
      for (const sub of ['new', 'cur']) {
        const d = join(root, domain, local, 'Maildir', sub);
        if (!existsSync(d)) continue;
        for (const f of readdirSync(d)) {
          // Postfix stores lines ending in LF, Tidings keeps CRLF.
          const id = /\nX-Test-Id: (\S+)\r?\n/.exec(readFileSync(join(d, f), 'latin1'))?.[1];
          if (id) into.set(id, [...(into.get(id) ?? []), { system, domain }]);
        }
      }
}

test('cutover under load: legacy → shadow → active and back, every accepted message exactly once in exactly one system', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tidings-cutover-'));
  const { pf, reserved } = await startLegacyPostfix(dir, {
    domain: DOMAINS[0],
    mailboxes: LOCALS,
    moreDomains: { [DOMAINS[1]]: LOCALS, [DOMAINS[2]]: LOCALS },
  });
  t.after(async () => {
    await pf.stop();
    reserved.release();
    rmSync(dir, { recursive: true, force: true });
  });

  // The backend: its clock is injected; it follows the wall clock except where the test moves it on (the job's run).
  const h = makeHarness({ start: new Date().toISOString() });
  const syncClock = () => h.advance(Date.now() - h.now().getTime());
  const session = await h.admin();
  const call = async (method: string, path: string, body?: unknown) => {
    syncClock();
    const res = await h.request(method, path, { body, session });
    assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${await res.clone().text()}`);
    return json<Record<string, unknown>>(res);
  };
  const job = (at: number) => {
    const deps = { db: h.db, clock: () => new Date(at), log: pino({ level: 'silent' }), changes: h.changes, publicUrl: 'http://localhost' };
    runTransitions(deps);
    return runSwitches(deps);
  };
  for (const name of DOMAINS) {
    await call('POST', '/api/v1/mail/domains', { name, mode: 'legacy', legacyHost: '127.0.0.1', legacyPort: reserved.port });
    for (const local of LOCALS) await call('POST', '/api/v1/mail/mailboxes', { address: `${local}@${name}` });
  }
  const lists = async (kind: string) => ((await call('GET', `/api/v1/${kind}`)) as { items: { id: number; name: string }[] }).items;
  const idOf = (items: { id: number; name: string }[], name: string) => items.find((x) => x.name === name)!.id;
  const task = await call('POST', '/api/v1/tasks', {
    summary: 'Rework of the inbound mail system',
    typeId: idOf(await lists('task-types'), 'Maintenance'),
    categoryId: idOf(await lists('categories'), 'Email'),
    statusId: idOf(await lists('statuses'), 'Planned'),
  });
  const taskId = task.id as number;
  const far = Date.now() + 86_400_000;
  const phases: { title: string; startsAt: string | null; endsAt: null }[] = [
    { title: 'parallel service', startsAt: new Date(far).toISOString(), endsAt: null },
    { title: 'deactivation of the old system', startsAt: new Date(far + 3_600_000).toISOString(), endsAt: null },
    { title: 'rollback', startsAt: new Date(far + 7_200_000).toISOString(), endsAt: null },
  ];
  const plan = () => call('PUT', `/api/v1/tasks/${taskId}/phases`, { phases });
  await plan();
  const link = [
    ['shadow', 'parallel service'],
    ['active', 'deactivation of the old system'],
    ['legacy', 'rollback'],
  ];
  for (const [mode, phase] of link) await call('POST', '/api/v1/mail/domains/gamma.test/switches', { mode, taskId, phase });

  // The node: replica, config sync against the backend app, relay to the real Postfix.
  const db = openNodeDatabase(join(dir, 'node.sqlite'));
  const token = issueNodeToken({ ctx: h.ctx, actor: { userId: null, name: 'test' }, name: 'mx1' });
  const env = { incoming: { socket: { remoteAddress: '127.0.0.1' } } };
  const sync = createConfigSync({
    db,
    backendUrl: 'http://backend.test',
    token,
    clock: systemClock,
    log: silentLog,
    intervalMs: 100,
    fetch: (async (url: URL, init?: RequestInit) => h.app.request(url.toString(), init, env)) as typeof fetch,
  });
  assert.equal((await sync.syncOnce()).ok, true);
  sync.start();
  const { mx, port } = await startReplicaNode(db, dir);
  t.after(async () => {
    sync.stop();
    await mx.stop();
    db.close();
  });
  const modeNow = async (name: string) => (await call('GET', `/api/v1/mail/domains/${name}/switches`)).mode;

  /** Moves every domain to `mode` at once, each its own way, and waits till the node resolves them so. */
  async function switchAll(mode: 'shadow' | 'active' | 'legacy', phase: number): Promise<void> {
    const when = Date.now() + 300;
    // alpha: a switch scheduled for a time. beta: staff switch now. gamma: the plan's phase starts then.
    await call('POST', '/api/v1/mail/domains/alpha.test/switches', { mode, at: new Date(when).toISOString() });
    await call('POST', '/api/v1/mail/domains/beta.test/switch-now', { mode });
    phases[phase].startsAt = new Date(when).toISOString();
    await plan();
    // The node applies a scheduled switch from its replica at its time (the sync only brings the schedule).
    const directory = createReplicaDirectory({ db, clock: systemClock });
    const want = mode === 'active' ? undefined : mode;
    await waitFor(
      () => DOMAINS.every((d) => (directory.resolve(`u0@${d}`) as { mode?: string }).mode === want),
      `the node to resolve every domain as ${mode}`,
      LONG,
    );
    // The backend's job with its clock injected past the phase's start: records the switches, comments the task once.
    assert.equal(job(when + 1000).comments, 1);
    assert.deepEqual(job(when + 2000), { applied: 0, cancelled: 0, comments: 0 }, 'applied once');
    for (const d of DOMAINS) assert.equal(await modeNow(d), mode);
  }

  /** A load of `count` messages; at each step's number of acked messages, its switch. */
  async function loadWith(count: number, steps: [at: number, mode: 'shadow' | 'active' | 'legacy', phase: number][]) {
    let acked = 0;
    const load = runLoad({ port, sessions: 20, perSession: count / 20, recipientFor, onAcked: () => acked++ });
    const switchedAt: number[] = [];
    for (const [at, mode, phase] of steps) {
      await waitFor(() => acked >= at, `${at} messages acked`, LONG);
      await switchAll(mode, phase);
      switchedAt.push(acked);
    }
    const r = await load;
    assert.ok(acked > switchedAt.at(-1)! + 100, `the load went on after the last switch (${switchedAt} of ${acked})`);
    // No sender saw a 4xx or 5xx: every reply to MAIL, RCPT, DATA and the message was 250 or 354.
    assert.deepEqual(r.unexpected, []);
    assert.deepEqual([...r.codes.keys()].sort(), [250, 354]);
    assert.equal(r.acked.size, count);
    assert.equal(r.uncertain.size, 0);
    // Everything delivered: the node's queue and Postfix's are empty.
    const queued = db.prepare("SELECT count(*) FROM deliveries WHERE state = 'queued'").pluck();
    await waitFor(
      () => queued.get() === 0 && pf.queueEmpty(),
      () => `queues drained (${queued.get()} queued on the node)`,
      LONG,
    );
    return r;
  }

  const stored = () => {
    const m = new Map<string, { system: string; domain: string }[]>();
    storedIds(join(dir, 'mail'), m, 'new');
    storedIds(pf.maildirRoot, m, 'legacy');
    return m;
  };
  const shadowEvents = db.prepare(
    "SELECT json_extract(detail, '$.verdict.domain') AS domain, count(*) AS n FROM events WHERE type = 'shadow-verdict' GROUP BY 1",
  );
  /** Each acked message once, in one system; per domain, how many each system got. */
  function exactlyOnce(r: LoadResult, before: Map<string, { system: string }[]>): Record<string, Record<string, number>> {
    const now = stored();
    const per: Record<string, Record<string, number>> = {};
    for (const id of r.acked.keys()) {
      // The copies this load added: those found now, less those found before it (ids repeat from load to load).
      const copies = [...(now.get(id) ?? [])];
      for (const b of before.get(id) ?? [])
        copies.splice(
          copies.findIndex((c) => c.system === b.system),
          1,
        );
      assert.equal(copies.length, 1, `${id}: ${JSON.stringify(copies)}`);
      const { system, domain } = copies[0];
      per[domain] ??= { new: 0, legacy: 0 };
      per[domain][system]++;
    }
    return per;
  }

  // Legacy → shadow at 1,500 acked → active at 3,000, of 5,000.
  const first = await loadWith(5000, [
    [1500, 'shadow', 0],
    [3000, 'active', 1],
  ]);
  const afterFirst = stored();
  const split = exactlyOnce(first, new Map());
  for (const d of DOMAINS) {
    assert.ok(split[d].legacy >= 1000 && split[d].new >= 300, `${d} moved mid-stream: ${JSON.stringify(split[d])}`);
  }
  // Shadow's dry run ran for every domain (messages relayed while shadow), and only for those.
  const shadow = Object.fromEntries((shadowEvents.all() as { domain: string; n: number }[]).map((r) => [r.domain, r.n]));
  for (const d of DOMAINS) assert.ok(shadow[d] > 0 && shadow[d] <= split[d].legacy, `${d}: ${shadow[d]} shadow verdicts`);

  // Rollback: active → legacy at 800 acked, of 2,000.
  const second = await loadWith(2000, [[800, 'legacy', 2]]);
  const back = exactlyOnce(second, afterFirst);
  for (const d of DOMAINS)
    assert.ok(back[d].new >= 200 && back[d].legacy >= 200, `${d} rolled back mid-stream: ${JSON.stringify(back[d])}`);

  // The task's timeline says which domains moved and when, once per phase, by the automatic author.
  const comments = h.db
    .prepare("SELECT body_md FROM comments WHERE task_id = ? AND body_md LIKE 'Mail routing:%' ORDER BY id")
    .pluck()
    .all(taskId) as string[];
  assert.equal(comments.length, 3);
  assert.match(comments[0], /gamma\.test switched to shadow/);
  assert.match(comments[1], /gamma\.test switched to active/);
  assert.match(comments[2], /gamma\.test switched to legacy/);
});
