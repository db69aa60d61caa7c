// A busy status page: 200 tasks on top of FS#2733 (incidents, running and upcoming work, a long closed tail), for size tests and the benchmark.
import type { DB } from '#data/db.ts';
import { insertTask } from './task-rows.ts';

const SECTIONS = ['email', 'webhosting', 'databases', 'dns', 'controlpanel'] as const;
const DAY = 86_400_000;

export function addBenchTasks(db: DB, now: Date, count = 200): void {
  const iso = (offsetDays: number) => new Date(now.getTime() + offsetDays * DAY).toISOString();
  const comment = (i: number, at: string) => ({
    at,
    html: `<p>Update ${i}: we are on it, see the <a href="https://example.test/x" rel="nofollow noopener noreferrer">notes</a>.</p>`,
  });
  db.transaction(() => {
    for (let i = 0; i < count; i++) {
      const section = SECTIONS[i % SECTIONS.length];
      const kind = i % 20;
      if (kind === 0) {
        insertTask(db, {
          summary: `Incident ${i}: slow responses`,
          type: 'Incident',
          section,
          status: 'In progress',
          percent: 30,
          openedAt: iso(-0.2),
          comments: [comment(i, iso(-0.1))],
        });
      } else if (kind < 5) {
        insertTask(db, {
          summary: `Rollout ${i}: new platform release`,
          type: 'Upgrade',
          section,
          status: 'In progress',
          percent: 50,
          openedAt: iso(-10),
          phases: [
            { title: 'preparation', startsAt: null, endsAt: iso(-3) },
            { title: 'rollout', startsAt: iso(-3), endsAt: iso(3) },
            { title: 'clean-up', startsAt: iso(3), endsAt: iso(4) },
          ],
          comments: [comment(i, iso(-3))],
        });
      } else if (kind < 8) {
        insertTask(db, {
          summary: `Maintenance ${i}: hardware replacement`,
          type: 'Maintenance',
          section,
          percent: 0,
          openedAt: iso(-1),
          phases: [{ title: 'maintenance window', startsAt: iso(5 + i / 10), endsAt: iso(5.1 + i / 10) }],
        });
      } else {
        insertTask(db, {
          summary: `Closed task ${i}: fixed`,
          type: i % 3 ? 'Bug' : 'Maintenance',
          section,
          status: 'Monitoring',
          percent: 100,
          openedAt: iso(-60 - i),
          closed: { at: iso(-30 - i / 10) },
          comments: [comment(i, iso(-59 - i)), comment(i + 1, iso(-31 - i / 10))],
        });
      }
    }
  })();
}
