// The "Telemetry" section of /staff/mail: what the backend holds from each MX node, its latest gauges, and refusals.
import type { ServerDeps } from '../../deps.ts';
import { utcToWallTime } from '../../domain/timezone.ts';
import { nodeTelemetry, refusalCounts, type TelemetryRefusalReason } from '../../store/telemetry.ts';
import { html, type Html } from './layout.ts';

const REFUSAL_LABELS: Record<TelemetryRefusalReason, string> = {
  'bad-token': 'missing, wrong or revoked node token (401; config sync included)',
  malformed: 'malformed body (400)',
  'too-large': 'batch too large (413)',
  gap: 'sequence gap, told to resend (409)',
  future: 'dated in the future (422)',
};

/** "45 s", "12 min", "3 h 05 min": how long ago, or how old. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

export function telemetrySection(deps: Pick<ServerDeps, 'db' | 'clock' | 'config'>): Html {
  const tz = deps.config.displayTimeZone;
  const now = deps.clock().getTime();
  const time = (ms: number) => utcToWallTime(new Date(ms), tz).replace('T', ' ');
  const nodes = nodeTelemetry(deps.db);
  const refusals = refusalCounts(deps.db);
  const none = html`<td class="muted">none yet</td>`;
  const rows = nodes.map((n) => {
    const hb = n.heartbeat;
    const lag = hb ? hb.lastSeq - (n.cursor ?? 0) : null;
    return html`<tr><th scope="row">${n.nodeName}</th>
      <td>${n.cursor ?? 'none yet'}</td>
      ${
        hb
          ? html`<td>${time(hb.receivedAt)} (${formatDuration(now - hb.receivedAt)} ago)</td>
      <td>${hb.queueDepth}</td><td>${hb.oldestQueuedMs === null ? 'empty queue' : formatDuration(hb.oldestQueuedMs)}</td>
      <td>${hb.inRetry}</td><td>${hb.configVersion}</td><td>${hb.lastSyncAt === null ? 'never' : time(hb.lastSyncAt)}</td>
      <td>${lag !== null && lag > 0 ? lag : 0}</td>`
          : html`${none}<td></td><td></td><td></td><td></td><td></td><td></td>`
      }</tr>`;
  });
  return html`<h2 id="telemetry">Telemetry</h2>
    <p class="muted">What each MX node has shipped (events up to its cursor are counted in the charts), its latest heartbeat and the gauges it read then. Times in ${tz}.</p>
    ${
      nodes.length === 0
        ? html`<p>No MX node has a token yet (<code>npm run cli -- mail node-token NAME</code>).</p>`
        : html`<table><caption>MX nodes: shipped events and latest heartbeat</caption><thead><tr>
      <th scope="col">Node</th><th scope="col">Events held up to seq</th><th scope="col">Last heartbeat</th>
      <th scope="col">Queue depth</th><th scope="col">Oldest queued</th><th scope="col">In retry</th>
      <th scope="col">Config version</th><th scope="col">Last config sync</th><th scope="col">Events not yet shipped</th>
      </tr></thead><tbody>${rows}</tbody></table>`
    }
    ${
      refusals.length === 0
        ? html`<p>No MX node request has been refused.</p>`
        : html`<table><caption>Refused MX node requests, by node and reason</caption><thead><tr>
      <th scope="col">Node</th><th scope="col">Reason</th><th scope="col">Count</th><th scope="col">Last refused</th>
      </tr></thead><tbody>${refusals.map(
        (r) => html`<tr><th scope="row">${r.nodeName ?? 'no valid token'}</th><td>${REFUSAL_LABELS[r.reason]}</td>
      <td>${r.count}</td><td>${time(r.lastAt)}</td></tr>`,
      )}</tbody></table>`
    }`;
}
