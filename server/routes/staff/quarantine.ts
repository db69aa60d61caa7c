// /staff/mail/quarantine: the quarantine index (issue 12) searched with a GET form, one row per quarantined copy,
// and per held copy a POST form to release it (never a virus) or delete it; the MX node applies the request on its
// next config sync. Everything from mail (subject, sender, recipient, symbols, virus name) goes through html``
// (escaped). Also the pieces /staff/mail shows: the quarantine's counts with the link here, and a warning per node
// that runs without content scanning.
import { Hono, type Context } from 'hono';
import {
  QUARANTINE_REASONS,
  QUARANTINE_STATUSES,
  releasable,
  type QuarantineReason,
  type QuarantineStatus,
} from '#data/contracts/quarantine.ts';
import type { DB } from '#data/db.ts';
import type { ServerDeps } from '../../deps.ts';
import type { AuthEnv } from '../../http/auth.ts';
import type { FieldError } from '../../http/problem.ts';
import { utcToWallTime } from '../../domain/timezone.ts';
import { listQuarantine, QUARANTINE_PAGE_DEFAULT } from '../../services/mail/listQuarantine.ts';
import { requestQuarantineDelete } from '../../services/mail/requestQuarantineDelete.ts';
import { requestQuarantineRelease } from '../../services/mail/requestQuarantineRelease.ts';
import { isNodeName, parseDeliveryId } from '../../domain/mx-node.ts';
import { nodeNames, parseCursor, quarantineCounts, type QuarantineItem } from '../../store/quarantine.ts';
import { latestHeartbeats } from '../../store/telemetry.ts';
import { csrfField, html, noticeOf, page, raw, send, type Html } from './layout.ts';
import { authOf, actorOf } from './guard.ts';
import { attempt } from './tasks.ts';

const STATUS_TEXT: Record<QuarantineStatus, string> = { held: 'held', released: 'released', purged: 'deleted' };
const PURGE_TEXT = { staff: 'by staff', retention: 'past the retention' } as const;
/** Where a release takes the copy, in words: a forward goes to another provider, and says so. */
function releaseText(i: Pick<QuarantineItem, 'route' | 'target'>): Html {
  switch (i.route) {
    case 'forward':
      return html`forward to ${i.target} <strong>(external)</strong>`;
    case 'legacy':
      return html`relay to the old MX ${i.target}`;
    default:
      return html`deliver to ${i.target} (mailbox)`;
  }
}

const REFUSED_TEXT = {
  'not-quarantined': 'the copy is not in its quarantine',
  virus: 'a message with a virus is never released',
} as const;

/** Nodes whose latest heartbeat says they run with TIDINGS_SCAN=off (a node that does not say is not listed). */
export function scanningOffWarning(db: DB): Html | string {
  const off = latestHeartbeats(db).filter((h) => h.scanning === 'off');
  if (off.length === 0) return '';
  return html`<div class="error" id="scanning-off"><p><strong>Content scanning is off</strong></p><ul>${off.map(
    (h) => html`<li>Node ${h.nodeName} accepts mail without content scanning (TIDINGS_SCAN=off): messages are delivered unscanned.</li>`,
  )}</ul></div>`;
}

/** The "Quarantine" section of /staff/mail: counts and the link to the list. */
export function quarantineSection(db: DB): Html {
  const n = quarantineCounts(db);
  return html`<h2 id="quarantine">Quarantine</h2>
    <p>${n.held} held, ${n.released} released, ${n.purged} deleted. <a href="/staff/mail/quarantine">Search the quarantine, release or delete messages</a>.</p>`;
}

/** The list's query as the GET form sends it; anything else is left out (the form only offers valid values). */
function queryOf(c: Context): { q: string; reason?: QuarantineReason; status?: QuarantineStatus; node?: string; before?: string } {
  const q = (c.req.query('q') ?? '').slice(0, 200);
  const reason = c.req.query('reason');
  const status = c.req.query('status');
  const node = c.req.query('node');
  const before = c.req.query('before');
  return {
    q,
    reason: (QUARANTINE_REASONS as readonly string[]).includes(reason ?? '') ? (reason as QuarantineReason) : undefined,
    status: (QUARANTINE_STATUSES as readonly string[]).includes(status ?? '') ? (status as QuarantineStatus) : undefined,
    node: node && isNodeName(node) ? node : undefined,
    before: before && parseCursor(before) ? before : undefined,
  };
}

const selectOptions = (values: readonly string[], selected: string | undefined, text: (v: string) => string) =>
  values.map((v) => html`<option value="${v}"${v === selected ? raw(' selected') : ''}>${text(v)}</option>`);

export function quarantinePageRoutes(deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const ctx = { db: deps.db, clock: deps.clock, changes: deps.changes };
  const tz = () => deps.config.displayTimeZone;
  const time = (isoTime: string) => utcToWallTime(isoTime, tz()).replace('T', ' ');

  const show = (c: Context, errors: FieldError[] = [], status = 200) => {
    const auth = authOf(c);
    const csrf = csrfField(auth);
    const query = queryOf(c);
    const { items, next } = listQuarantine(deps.db, { ...query, limit: QUARANTINE_PAGE_DEFAULT });
    const nodes = nodeNames(deps.db);
    const params = (extra: Record<string, string>) => {
      const p = new URLSearchParams();
      if (query.q) p.set('q', query.q);
      if (query.reason) p.set('reason', query.reason);
      if (query.status) p.set('status', query.status);
      if (query.node) p.set('node', query.node);
      for (const [k, v] of Object.entries(extra)) p.set(k, v);
      return p.toString();
    };
    const row = (i: QuarantineItem) => {
      const name = `${i.deliveryId} on ${i.node}`;
      const verdict =
        i.virus !== null
          ? html`<strong>virus</strong> ${i.virus}`
          : i.symbols.length > 0
            ? i.symbols.join(', ')
            : html`<span class="muted">none</span>`;
      const actions =
        i.status !== 'held' || i.pending
          ? ''
          : html`<div class="row">${
              releasable(i.reason)
                ? html`<form method="post" action="/staff/mail/quarantine/${i.node}/${i.deliveryId}/release">${csrf}<button type="submit" aria-describedby="release-to-${i.nodeId}-${i.deliveryId}" aria-label="Release copy ${name}">Release</button> <span class="release-to" id="release-to-${i.nodeId}-${i.deliveryId}">${releaseText(i)}</span></form>`
                : ''
            }<form method="post" action="/staff/mail/quarantine/${i.node}/${i.deliveryId}/delete">${csrf}<button type="submit" aria-label="Delete copy ${name}">Delete</button></form></div>`;
      return html`<tr>
        <td><time datetime="${i.quarantinedAt}">${time(i.quarantinedAt)}</time></td>
        <td>${i.node} <span class="muted">#${i.deliveryId}</span></td>
        <td>${i.recipient}</td>
        <td>${i.sender === '' ? html`<span class="muted">&lt;&gt; (null sender)</span>` : i.sender}</td>
        <th scope="row">${i.subject === null ? html`<span class="muted">(no subject)</span>` : i.subject}</th>
        <td>${i.reason}</td>
        <td>${i.score === null ? html`<span class="muted">none</span>` : i.score.toFixed(2)}</td>
        <td>${verdict}</td>
        <td>${STATUS_TEXT[i.status]}${i.purgeReason ? ` ${PURGE_TEXT[i.purgeReason]}` : ''}${i.statusAt ? html` <span class="muted">${time(i.statusAt)}</span>` : ''}</td>
        <td>${
          i.pending
            ? html`${i.pending.action} requested ${time(i.pending.requestedAt)}, waiting for the node's next sync`
            : i.refused
              ? html`<span class="refused">${i.refused.action} refused by the node ${time(i.refused.at)}: ${REFUSED_TEXT[i.refused.why]}</span>`
              : html`<span class="muted">none</span>`
        }</td>
        <td>${actions}</td></tr>`;
    };
    const body = html`${scanningOffWarning(deps.db)}
    <p class="muted">Copies the MX nodes quarantined (spam or virus), as their events reported them; times in ${tz()}. A release
    delivers the message as if clean; a message with a virus is never delivered and can only be deleted. The node applies
    a request on its next config sync. <a href="/staff/mail">Back to the mail configuration</a>.</p>
    <form method="get" action="/staff/mail/quarantine" role="search"><fieldset><legend>Search the quarantine</legend>
      <label for="qq">Words in subject, sender, recipient, symbols or virus name</label>
      <input type="search" id="qq" name="q" maxlength="200" value="${query.q}">
      <div class="row">
        <div><label for="qreason">Reason</label><select id="qreason" name="reason"><option value="">any</option>${selectOptions(QUARANTINE_REASONS, query.reason, (v) => v)}</select></div>
        <div><label for="qstatus">Status</label><select id="qstatus" name="status"><option value="">any</option>${selectOptions(QUARANTINE_STATUSES, query.status, (v) => STATUS_TEXT[v as QuarantineStatus])}</select></div>
        <div><label for="qnode">Node</label><select id="qnode" name="node"><option value="">any</option>${selectOptions(nodes, query.node, (v) => v)}</select></div>
        <div><button type="submit">Search</button></div>
      </div></fieldset></form>
    ${
      items.length === 0
        ? html`<p>No quarantined message matches.</p>`
        : html`<table><caption>Quarantined messages, newest first</caption><thead><tr>
      <th scope="col">Received</th><th scope="col">Node</th><th scope="col">Recipient</th><th scope="col">Sender</th>
      <th scope="col">Subject</th><th scope="col">Reason</th><th scope="col">Score</th><th scope="col">Symbols or virus</th>
      <th scope="col">Status</th><th scope="col">Request</th><th scope="col">Actions</th>
      </tr></thead><tbody>${items.map(row)}</tbody></table>`
    }
    ${next ? html`<p><a href="/staff/mail/quarantine?${params({ before: next })}">Older messages</a></p>` : ''}`;
    return send(c, page({ title: 'Quarantine', auth, notice: noticeOf(c), errors, body }), status);
  };

  app.get('/mail/quarantine', (c) => show(c));

  const request = (kind: 'release' | 'delete') => (c: Context) => {
    const node = c.req.param('node') ?? '';
    const deliveryId = parseDeliveryId(c.req.param('delivery') ?? '');
    const errors =
      deliveryId === null || !isNodeName(node)
        ? Object.assign([{ field: '', message: 'There is no such quarantined copy.' }], { status: 404 })
        : attempt(() => {
            const input = { ctx, actor: actorOf(c), node, deliveryId };
            if (kind === 'release') requestQuarantineRelease(input);
            else requestQuarantineDelete(input);
          });
    if (errors) return show(c, errors, errors.status ?? 400);
    return c.redirect(`/staff/mail/quarantine?done=${kind === 'release' ? 'release-requested' : 'delete-requested'}`, 303);
  };
  app.post('/mail/quarantine/:node/:delivery/release', request('release'));
  app.post('/mail/quarantine/:node/:delivery/delete', request('delete'));
  return app;
}
