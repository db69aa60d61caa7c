// /staff/lists: add, rename, reorder and delete sections, task types, statuses, close reasons and categories.
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { ServerDeps } from '../../deps.ts';
import type { AuthEnv } from '../../http/auth.ts';
import type { FieldError } from '../../http/problem.ts';
import { notFound } from '../../http/problem.ts';
import { parseId, parseWith } from '../../http/validate.ts';
import { LIST_KINDS, LIST_INFO, isListKind, type ListKind } from '../../domain/lists.ts';
import { listEntries, type ListEntry } from '../../store/lists.ts';
import { createListEntry } from '../../services/lists/createListEntry.ts';
import { updateListEntry } from '../../services/lists/updateListEntry.ts';
import { deleteListEntry } from '../../services/lists/deleteListEntry.ts';
import { page, send, html, raw, csrfField, noticeOf, options, type Html } from './layout.ts';
import { readForm, type Form } from './forms.ts';
import { authOf, actorOf } from './guard.ts';
import { attempt } from './tasks.ts';

const TITLES: Record<ListKind, string> = {
  sections: 'Sections',
  'task-types': 'Task types',
  statuses: 'Statuses',
  'close-reasons': 'Reasons for closing',
  categories: 'Categories',
};

const Values = z.object({
  name: z.string().trim().min(1).max(100),
  position: z.coerce.number().pipe(z.int().min(0).max(1_000_000)).optional(),
  slug: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,59}$/, 'lower-case letters, digits and dashes, at most 60')
    .optional(),
  description: z.string().max(500).optional(),
  parentId: z.coerce.number().pipe(z.int().min(1)).nullable().optional(),
});

/** Only the fields this kind has; an empty parent means a root category, an empty order puts a new entry last and leaves an old one where it is. */
function valuesOf(kind: ListKind, f: Form): Record<string, unknown> {
  const raw: Record<string, unknown> = { name: f.name ?? '', position: (f.position ?? '').trim() || undefined };
  if (kind === 'sections') {
    raw.slug = (f.slug ?? '').trim();
    raw.description = f.description ?? '';
  }
  if (kind === 'categories') raw.parentId = f.parentId ? f.parentId : null;
  const v = parseWith(Values, raw, LIST_INFO[kind].label);
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined));
}

function kindOf(c: Context): ListKind {
  const k = c.req.param('kind') ?? '';
  if (!isListKind(k)) throw notFound(`There is no list "${k.slice(0, 40)}".`);
  return k;
}

function entryForm(c: Context, kind: ListKind, e: ListEntry | null, parents: { id: number; label: string }[]): Html {
  const auth = authOf(c);
  const action = e ? `/staff/lists/${kind}/${e.id}` : `/staff/lists/${kind}`;
  const p = e ? `${kind}-${e.id}` : `${kind}-new`;
  return html`<form method="post" action="${action}" class="row">${csrfField(auth)}
    <div><label for="${p}-name">Name</label><input type="text" id="${p}-name" name="name" maxlength="100" value="${e?.name ?? ''}" required></div>
    ${
      kind === 'sections'
        ? html`<div><label for="${p}-slug">Slug</label><input type="text" id="${p}-slug" name="slug" maxlength="60" value="${String(e?.slug ?? '')}" required></div>
      <div><label for="${p}-desc">Description</label><input type="text" id="${p}-desc" name="description" maxlength="500" value="${String(e?.description ?? '')}"></div>`
        : ''
    }
    ${
      kind === 'categories'
        ? html`<div><label for="${p}-parent">Parent</label><select id="${p}-parent" name="parentId">${options(
            parents.filter((x) => x.id !== e?.id),
            (e?.parentId as number | null) ?? null,
            '(root)',
          )}</select></div>`
        : ''
    }
    <div><label for="${p}-pos">Order</label><input type="number" id="${p}-pos" name="position" min="0" value="${e?.position ?? ''}" style="width:5rem"></div>
    <div><button type="submit">${e ? 'Save' : 'Add'}</button></div></form>
    ${e ? html`<form method="post" action="/staff/lists/${kind}/${e.id}/delete" class="inline">${csrfField(auth)}<button type="submit">Delete ${e.name}</button></form>` : ''}`;
}

export function listPageRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const ctx = { db: deps.db, clock: deps.clock, changes: deps.changes };

  const show = (c: Context, errors: FieldError[] = [], status = 200) => {
    const parents = listEntries(deps.db, 'categories').map((e) => ({ id: e.id, label: (e.path as string[]).join(' → ') }));
    const body = html`${LIST_KINDS.map(
      (kind) => html`<section aria-labelledby="h-${kind}"><h2 id="h-${kind}">${TITLES[kind]}</h2>
      ${listEntries(deps.db, kind).map((e) => html`<div class="preview">${kind === 'categories' ? html`<p class="muted">${(e.path as string[]).join(' → ')}</p>` : raw('')}${entryForm(c, kind, e, parents)}</div>`)}
      <h3>Add</h3>${entryForm(c, kind, null, parents)}</section>`,
    )}`;
    return send(c, page({ title: 'Sections and lists', auth: authOf(c), notice: noticeOf(c), errors, body }), status);
  };

  app.get('/lists', (c) => show(c));

  app.post('/lists/:kind', async (c) => {
    const kind = kindOf(c);
    const form = await readForm(c);
    const errors = attempt(() => {
      createListEntry({ ctx, actor: actorOf(c), kind, values: valuesOf(kind, form) });
    });
    if (errors) return show(c, errors, errors.status ?? 400);
    return c.redirect(`/staff/lists?done=added#h-${kind}`, 303);
  });

  app.post('/lists/:kind/:id', async (c) => {
    const kind = kindOf(c);
    const id = parseId(c.req.param('id'));
    const form = await readForm(c);
    const errors = attempt(() => {
      updateListEntry({ ctx, actor: actorOf(c), kind, id, values: valuesOf(kind, form) });
    });
    if (errors) return show(c, errors, errors.status ?? 400);
    return c.redirect(`/staff/lists?done=saved#h-${kind}`, 303);
  });

  app.post('/lists/:kind/:id/delete', (c) => {
    const kind = kindOf(c);
    const id = parseId(c.req.param('id'));
    const errors = attempt(() => deleteListEntry({ ctx, actor: actorOf(c), kind, id }));
    if (errors) return show(c, errors, errors.status ?? 400);
    return c.redirect(`/staff/lists?done=deleted#h-${kind}`, 303);
  });
  return app;
}
