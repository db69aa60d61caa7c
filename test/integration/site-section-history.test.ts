// The 90 daily bars and the list of state changes on /section/<slug> come from the stored state changes (issue 10):
// states stored through the real paths (node heartbeats and their silence, a staff override, an incident opened and
// closed through the task services), read by the real app over HTTP with an injected clock. Each bar is the worst state
// of its UTC day, days before the first stored state show "no data", and an override wins until it expires.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CloseTaskInput, CreateTaskInput } from '#data/contracts/tasks.ts';
import { issueNodeToken } from '#server/services/mail/issueNodeToken.ts';
import { setOverride } from '#server/services/overrides/setOverride.ts';
import { createTask } from '#server/services/tasks/createTask.ts';
import { closeTask } from '#server/services/tasks/closeTask.ts';
import { stateChanges } from '#server/store/state-changes.ts';
import { postAsNode, startSiteServer } from '../support/site-server.ts';
import { decodeEntities, visibleText } from '../support/html-text.ts';

interface Bar {
  day: string;
  state: string;
  title: string;
}

/** The bars of a section page, oldest first, as drawn (class, tooltip, data attributes). */
function bars(html: string): Bar[] {
  const out = [...html.matchAll(/<span class="h-([\w-]+)" title="([^"]*)" data-day="([\d-]+)" data-state="([\w-]+)"><\/span>/g)].map(
    (m) => {
      assert.equal(m[1], m[4], 'class and data-state agree');
      return { day: m[3], state: m[4], title: decodeEntities(m[2]) };
    },
  );
  assert.equal(out.length, 90);
  return out;
}

/** The state-change list of a section page, newest first, as its visible text per entry. */
function changeList(html: string): { to: string; source: string; text: string }[] {
  return [...html.matchAll(/<li data-change="(\w+)" data-source="(\w+)">([\s\S]*?)<\/li>/g)].map((m) => ({
    to: m[1],
    source: m[2],
    text: visibleText(m[3]).replace(/\s+/g, ' ').trim(),
  }));
}

/** The key under the bars: "no data: 84 days" and so on. */
function key(html: string): string[] {
  const list = /<ul class="history-key" data-history-key>([\s\S]*?)<\/ul>/.exec(html);
  assert.ok(list, 'the page has the key');
  return [...list[1].matchAll(/<li data-kind="[\w-]+">([\s\S]*?)<\/li>/g)].map((m) => visibleText(m[1]).trim());
}

const byDay = (list: Bar[]) => Object.fromEntries(list.map((b) => [b.day, b]));

async function start(now: string, tz = 'UTC') {
  const site = await startSiteServer({ now, tz });
  let clock = new Date(now);
  const ctx = { db: site.db, clock: () => new Date(clock.getTime()), changes: site.changes, publicUrl: 'http://localhost' };
  const token = issueNodeToken({ ctx, actor: { userId: null, name: 'test' }, name: 'mx1' });
  const staff = site.db.prepare("SELECT id FROM users WHERE username = 'legacy-admin'").get() as { id: number };
  const ids = (table: string, name: string) => (site.db.prepare(`SELECT id FROM ${table} WHERE name = ?`).get(name) as { id: number }).id;
  return {
    site,
    ctx,
    actor: { userId: staff.id, name: 'staff' },
    ids,
    at(iso: string) {
      clock = new Date(iso);
      site.setNow(iso);
    },
    beat: () =>
      postAsNode(site, '/api/v1/telemetry/heartbeat', token, {
        at: clock.getTime(),
        queueDepth: 0,
        oldestQueuedMs: null,
        inRetry: 0,
        configVersion: 1,
        lastSyncAt: null,
        lastSeq: 0,
      }),
    async page(slug = 'email'): Promise<string> {
      const r = await site.get(`/section/${slug}`);
      assert.equal(r.status, 200);
      return r.text();
    },
  };
}

test('a week of stored changes: each day shows its worst state, earlier days no data, an override wins until it expires', async () => {
  const t = await start('2026-01-10T10:00:00.000Z', 'Europe/Berlin');
  try {
    // Day 1: the first view stores the first state; recording begins mid-day.
    let html = await t.page();
    let b = byDay(bars(html));
    assert.equal(b['2026-01-10'].state, 'operational');
    assert.equal(b['2026-01-10'].title, '2026-01-10: operational, recorded from 10:00 UTC');
    assert.equal(b['2026-01-09'].state, 'none');
    assert.equal(b['2026-01-09'].title, "2026-01-09: no data (before this section's state was first recorded)");

    // Day 2: the node beats, falls silent (unknown after 5 minutes), beats again.
    t.at('2026-01-11T09:00:00.000Z');
    await t.beat();
    t.at('2026-01-11T09:06:00.000Z');
    assert.match(await t.page(), /<p data-section-state><span class="state s-unknown"/);
    t.at('2026-01-11T09:30:00.000Z');
    await t.beat();
    await t.page();

    // Day 3: a staff override "issues" until 09:00 while the node goes quiet: the override holds the light and the
    // stored history; at its expiry the telemetry verdict (unknown) takes over, then a heartbeat brings it back.
    t.at('2026-01-12T08:00:00.000Z');
    await t.beat();
    setOverride({
      ctx: t.ctx,
      actor: { userId: null, name: 'staff' },
      slug: 'email',
      input: { state: 'issues', note: 'mail delayed at a provider', expiresAt: '2026-01-12T09:00:00.000Z' },
    });
    await t.page();
    t.at('2026-01-12T08:30:00.000Z');
    assert.match(await t.page(), /<p data-section-state><span class="state s-issues"/, 'the node is stale, the override wins');
    t.at('2026-01-12T09:00:00.000Z');
    await t.page();
    t.at('2026-01-12T09:10:00.000Z');
    await t.beat();
    await t.page();

    // Day 4 and 5: an incident opened and closed through the task services.
    t.at('2026-01-13T06:00:00.000Z');
    await t.beat();
    const input: CreateTaskInput = {
      summary: 'Mail delivery stalls',
      details: '',
      typeId: t.ids('task_types', 'Incident'),
      categoryId: t.ids('categories', 'Email'),
      sectionId: (t.site.db.prepare("SELECT id FROM sections WHERE slug = 'email'").get() as { id: number }).id,
      statusId: t.ids('statuses', 'New'),
      percent: 0,
    };
    const incident = createTask({ ctx: t.ctx, actor: t.actor, input });
    await t.page();
    t.at('2026-01-14T03:00:00.000Z');
    await t.beat();
    closeTask({ ctx: t.ctx, actor: t.actor, taskId: incident, input: { reason: 'Finished' } as CloseTaskInput });
    await t.page();

    // Day 6: quiet.
    t.at('2026-01-15T12:00:00.000Z');
    await t.beat();
    html = await t.page();
    const list = bars(html);
    b = byDay(list);
    assert.equal(list.at(-1)?.day, '2026-01-15');
    assert.deepEqual(
      ['10', '11', '12', '13', '14', '15'].map((d) => [d, b[`2026-01-${d}`].state]),
      [
        ['10', 'operational'],
        ['11', 'unknown'],
        ['12', 'issues'],
        ['13', 'issues'],
        ['14', 'issues'],
        ['15', 'operational'],
      ],
    );
    assert.equal(b['2026-01-11'].title, '2026-01-11: unknown (also operational)');
    assert.equal(b['2026-01-12'].title, '2026-01-12: issues (also unknown, operational)');
    assert.equal(b['2026-01-14'].title, '2026-01-14: issues (also operational)', 'the incident ran into the day from midnight');
    assert.equal(list.filter((x) => x.state === 'none').length, 84);
    assert.ok(
      list.slice(0, 84).every((x) => x.state === 'none'),
      'no data only before the first stored state',
    );
    assert.deepEqual(key(html), ['issues: 3 days', 'unknown: 1 day', 'operational: 2 days', 'no data: 84 days']);
    assert.match(
      html,
      /role="img" aria-label="Daily state for the last 90 days: 3 days issues, 1 day unknown, 2 days operational, 84 days no data"/,
    );
    assert.match(
      visibleText(html),
      /This section's state is recorded since Saturday, 10 January 2026, 11:00 CET; days before that have no data\./,
    );

    // The list as read aloud (the arrow is hidden from screen readers): newest first, in the display time zone, from and
    // to, the stored reason (tasks by number, linked) and its source.
    const fs = `FS#${incident}`;
    assert.deepEqual(changeList(html), [
      {
        to: 'operational',
        source: 'tasks',
        text: 'Wednesday, 14 January 2026, 04:00 CET from Issues to Operational no open incidents or announced work (source: its tasks)',
      },
      { to: 'issues', source: 'tasks', text: `Tuesday, 13 January 2026, 07:00 CET from Operational to Issues ${fs} (source: its tasks)` },
      {
        to: 'operational',
        source: 'tasks',
        text: 'Monday, 12 January 2026, 10:10 CET from Unknown to Operational no open incidents or announced work (source: its tasks)',
      },
      {
        to: 'unknown',
        source: 'telemetry',
        text: `Monday, 12 January 2026, 10:00 CET from Issues to Unknown service status unknown or not updated yet: no heartbeat from any mail node for 5 min (source: telemetry)`,
      },
      {
        to: 'issues',
        source: 'override',
        text: 'Monday, 12 January 2026, 09:00 CET from Operational to Issues mail delayed at a provider (source: staff override)',
      },
      {
        to: 'operational',
        source: 'tasks',
        text: 'Sunday, 11 January 2026, 10:30 CET from Unknown to Operational no open incidents or announced work (source: its tasks)',
      },
      {
        to: 'unknown',
        source: 'telemetry',
        text: `Sunday, 11 January 2026, 10:06 CET from Operational to Unknown service status unknown or not updated yet: no heartbeat from any mail node for 5 min (source: telemetry)`,
      },
      {
        to: 'operational',
        source: 'tasks',
        text: 'Saturday, 10 January 2026, 11:00 CET First recorded state: Operational no open incidents or announced work (source: its tasks)',
      },
    ]);
    assert.match(html, new RegExp(`<a href="/task/${incident}">${fs}</a>`), 'a task in a reason links to its page');
    assert.equal(stateChanges(t.site.db, 'email').length, 8, 'the page lists exactly what is stored');
  } finally {
    await t.site.close();
  }
});

test('a fresh install (the FS#2733 seed): today has the first stored state, every earlier day no data, /status.json no history', async () => {
  const t = await start('2026-01-15T12:00:00.000Z');
  try {
    const html = await t.page();
    const list = bars(html);
    // FS#2733 (closed in 2021) colours nothing: the bars come from stored states only.
    assert.deepEqual(
      list.map((x) => x.state),
      [...Array(89).fill('none'), 'operational'],
    );
    assert.deepEqual(key(html), ['operational: 1 day', 'no data: 89 days']);
    assert.deepEqual(
      changeList(html).map((c) => c.text),
      ['Thursday, 15 January 2026, 12:00 GMT First recorded state: Operational no open incidents or announced work (source: its tasks)'],
    );
    const json = await (await t.site.get('/status.json')).json();
    for (const s of json.sections) {
      assert.deepEqual(
        ['history', 'recordedSince', 'stateChanges'].filter((k) => k in s),
        [],
        `${s.slug} in /status.json`,
      );
    }
  } finally {
    await t.site.close();
  }
});

test('a section added later has no data for every day before its first stored state, whatever its tasks say', async () => {
  const t = await start('2026-01-15T12:00:00.000Z');
  try {
    await t.page();
    t.at('2026-01-20T08:00:00.000Z');
    t.site.db.prepare("INSERT INTO sections (slug, name, description, position) VALUES ('backup', 'Backup', 'Backups', 9)").run();
    // An incident dated before the section existed is not taken for history.
    t.site.db
      .prepare(`INSERT INTO tasks (summary, details_md, details_html, type_id, category_id, section_id, status_id, opened_by, opened_at,
                last_edited_at) SELECT 'Restore slow', '', '', (SELECT id FROM task_types WHERE name = 'Incident'),
                (SELECT id FROM categories WHERE name = 'Email'), id, (SELECT id FROM statuses WHERE name = 'New'),
                (SELECT id FROM users WHERE username = 'legacy-admin'), '2026-01-12T00:00:00.000Z', '2026-01-12T00:00:00.000Z'
                FROM sections WHERE slug = 'backup'`)
      .run();
    t.site.changes.bump();
    const b = bars(await t.page('backup'));
    assert.deepEqual(
      b.slice(-10).map((x) => `${x.day.slice(5)} ${x.state}`),
      [
        '01-11 none',
        '01-12 none',
        '01-13 none',
        '01-14 none',
        '01-15 none',
        '01-16 none',
        '01-17 none',
        '01-18 none',
        '01-19 none',
        '01-20 issues',
      ],
    );
    // Email's own days are kept: recorded from the 15th on.
    const email = byDay(bars(await t.page()));
    assert.deepEqual(
      ['2026-01-14', '2026-01-15', '2026-01-20'].map((d) => email[d].state),
      ['none', 'operational', 'operational'],
    );
  } finally {
    await t.site.close();
  }
});
