// axe-core's WCAG 2 A/AA rules on every staff page (read from the route table), light and dark, at 1280 and 375 px.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { addStaff } from '#server/services/users/addStaff.ts';
import { staffRoutes } from '#server/routes/staff/index.ts';
import { auditPages } from '../support/axe-audit.ts';
import { launchChromium, type LaunchedBrowser } from '../support/chromium.ts';
import { startSiteServer, type SiteServer } from '../support/site-server.ts';
import { insertTask } from '../support/task-rows.ts';
import { ingestBatch } from '#server/services/telemetry/ingestBatch.ts';
import { recordHeartbeat } from '#server/services/telemetry/recordHeartbeat.ts';
import { findNodeByTokenHash } from '#server/store/mail.ts';
import { hashNodeToken, issueNodeToken } from '#server/services/mail/issueNodeToken.ts';
import { addDomain } from '#server/services/mail/addDomain.ts';
import { addMailbox } from '#server/services/mail/addMailbox.ts';
import { setPolicy } from '#server/services/mail/setPolicy.ts';
import { scheduleSwitch } from '#server/services/mail/switches.ts';
import { bumpRefusal } from '#server/store/telemetry.ts';
import { seedWebhooks } from '../support/webhook-rows.ts';
import { seedOutbox } from '../support/notify-subscribers.ts';

const PASSWORD = 'a long staff password';
// The real time: the session cookie's expiry comes from the server clock and the browser compares it with its own.
const NOW = new Date(Math.floor(Date.now() / 60_000) * 60_000);
const at = (days: number) => new Date(NOW.getTime() + days * 86_400_000).toISOString();

let site: SiteServer;
let chrome: LaunchedBrowser;

/** Every GET page of the staff UI, read from its route table, so a new page cannot go unchecked. */
function staffPagePatterns(): string[] {
  const app = staffRoutes({ db: site.db, config: {} as never, clock: () => NOW, log: pino({ level: 'silent' }), changes: site.changes });
  const paths = app.routes
    .filter((r) => r.method === 'GET' && !r.path.includes('*') && !r.path.startsWith('/assets/'))
    .map((r) => `/staff${r.path === '/' ? '' : r.path}`);
  return [...new Set(paths)];
}

before(async () => {
  site = await startSiteServer({ now: NOW.toISOString() });
  insertTask(site.db, {
    summary: 'PHP 8.4 rollout',
    type: 'Upgrade',
    section: 'webhosting',
    percent: 40,
    openedAt: at(-10),
    phases: [
      { title: 'canary hosts', startsAt: null, endsAt: at(-3) },
      { title: 'all hosts', startsAt: at(-3), endsAt: at(5) },
    ],
  });
  insertTask(site.db, {
    summary: 'Zone transfer check',
    type: 'Maintenance',
    section: 'dns',
    percent: 0,
    openedAt: at(-1),
    closed: { at: at(-0.9) },
  });
  site.changes.bump();
  const ctx = { db: site.db, clock: () => NOW, changes: site.changes };
  await addStaff({
    ctx,
    actor: { userId: null, name: 'cli' },
    input: { username: 'root', displayName: 'Root', role: 'admin', password: PASSWORD },
  });
  // An MX node with shipped events, a heartbeat and refusals, so /staff/mail's telemetry tables are audited too.
  const token = issueNodeToken({ ctx, actor: { userId: null, name: 'cli' }, name: 'mx1' });
  const node = findNodeByTokenHash(site.db, hashNodeToken(token))!;
  const t = NOW.getTime();
  ingestBatch({
    db: site.db,
    clock: () => NOW,
    node,
    batch: {
      after: 0,
      events: [
        { seq: 1, at: t - 1000, type: 'accepted', messageId: 'm1' },
        // Quarantined copies (spam, and a virus that can only be deleted), so /staff/mail/quarantine's table and forms are audited.
        {
          seq: 2,
          at: t - 900,
          type: 'quarantined',
          messageId: 'm1',
          reason: 'spam',
          entry: {
            deliveryId: 1,
            recipient: 'anna@example.com',
            route: 'forward',
            target: 'bob@provider.test',
            sender: 's@remote.test',
            subject: 'Cheap <watches>',
            size: 900,
            score: 15,
            symbols: ['GTUBE'],
            virus: null,
          },
        },
        {
          seq: 3,
          at: t - 800,
          type: 'quarantined',
          messageId: 'm1',
          reason: 'virus',
          entry: {
            deliveryId: 2,
            recipient: 'anna@example.com',
            route: 'maildir',
            target: 'anna@example.com',
            sender: '',
            subject: null,
            size: 900,
            score: null,
            symbols: [],
            virus: 'Eicar-Signature',
          },
        },
        // Shadow verdicts, so /staff/mail/shadow's tables are audited.
        ...(['quarantine', 'deliver'] as const).map((verdict, i) => ({
          seq: 4 + i,
          at: t - 700 + i,
          type: 'shadow-verdict' as const,
          messageId: 'm2',
          verdict: {
            domain: 'example.com',
            address: 'anna@example.com',
            verdict,
            reason: verdict === 'deliver' ? ('clean' as const) : ('spam' as const),
            score: 9,
            sample: { from: 's@remote.test', subject: 'Cheap <watches>', date: null, messageId: '<m2@remote.test>' },
          },
        })),
      ],
    },
  });
  // scanning off: the warning on /staff/mail and the quarantine page is audited too.
  const heartbeat = {
    at: t,
    queueDepth: 2,
    oldestQueuedMs: 5000,
    inRetry: 1,
    configVersion: 3,
    lastSyncAt: t,
    lastSeq: 4,
    scanning: 'off' as const,
  };
  recordHeartbeat({ db: site.db, clock: () => NOW, node, heartbeat });
  bumpRefusal(site.db, null, 'bad-token', t);
  bumpRefusal(site.db, node.id, 'gap', t);
  // A domain and a mailbox with policies at each level, so /staff/mail's policy forms and effective-policy table are audited.
  const cli = { userId: null, name: 'cli' };
  addDomain({ ctx, actor: cli, input: { name: 'example.com', mode: 'active', legacyHost: null, legacyPort: null, catchAll: null } });
  addMailbox({ ctx, actor: cli, input: { address: 'anna@example.com', delivery: 'maildir', lmtpHost: null, lmtpPort: null } });
  setPolicy({ ctx, actor: cli, scope: 'installation', key: '*', settings: { spam: 'remove' } });
  setPolicy({ ctx, actor: cli, scope: 'domain', key: 'example.com', settings: { dmarc: 'honour' } });
  setPolicy({ ctx, actor: cli, scope: 'address', key: 'anna@example.com', settings: { spamThreshold: 6, subjectPrefix: '<junk> ' } });
  // A pending switch, so the domain's switch page is audited with its table and cancel form.
  scheduleSwitch({ ctx, actor: cli, name: 'example.com', input: { mode: 'active', at: at(2) } });
  // Webhooks in each state with a delivery log, so /staff/webhooks is audited with its tables and forms.
  seedWebhooks(site.db, () => NOW);
  // Subscriber mail sent, waiting and failed, and a disabled subscriber, so /staff/notify's tables and form are audited.
  seedOutbox(site.db);
  chrome = await launchChromium();
});
after(async () => {
  await chrome?.close();
  await site?.close();
});

test('every staff page passes axe WCAG 2 A/AA, light and dark, at 1280 and 375 px', { timeout: 300_000 }, async () => {
  const page = await chrome.context.newPage();
  // The login form first, as an anonymous visitor sees it.
  const anonymous = await auditPages(page, site.url, ['/staff/login'], ['/staff/login']);
  await page.goto(`${site.url}/staff/login`);
  await page.fill('#username', 'root');
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(/\/staff\/?$/), page.getByRole('button', { name: 'Log in' }).click()]);
  const taskId = (site.db.prepare('SELECT max(id) AS id FROM tasks').get() as { id: number }).id;
  // One edit, so the task has a history entry and the pages that act on one are reachable.
  await page.goto(`${site.url}/staff/tasks/${taskId}`);
  await page.fill('#summary', 'Zone transfer check, edited');
  await Promise.all([page.waitForURL(/\/staff\/tasks\/\d+/), page.getByRole('button', { name: 'Save task' }).click()]);

  const patterns = staffPagePatterns().filter((p) => p !== '/staff/login');
  const { failures, covered } = await auditPages(page, site.url, ['/staff', `/staff/tasks/${taskId}`, '/staff/no-such-page'], patterns);
  await page.close();
  assert.deepEqual([...anonymous.failures, ...failures], []);
  assert.deepEqual(
    patterns.filter((p) => !covered.has(p)),
    [],
    'staff pages no link led to',
  );
});
