// Reads the backend's and the shared TIDINGS_* environment variables into one checked configuration object (the MX node's
// own settings: data/config-mx.ts).
import { resolve } from 'node:path';
import { ConfigError, duration, type Env, ipList, listenHost, oneOf, port, UNIT_MS } from './config-env.ts';
import { HostName } from './contracts/mail-config.ts';

export { ConfigError } from './config-env.ts';

export interface Config {
  stateDir: string;
  httpHost: string;
  httpPort: number;
  smtpHost: string;
  smtpPort: number;
  /** Public base URL of the site; https here turns on Secure/__Host- cookies. */
  publicUrl: string;
  displayTimeZone: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** `all-in-one` (default: `npm start` also runs an MX node) or `backend` (MX nodes run elsewhere). */
  role: 'all-in-one' | 'backend';
  /** Whether webhooks may reach loopback, private, link-local and other non-public addresses (off: refused). */
  webhookAllowPrivate: boolean;
  /** Reverse proxies whose X-Forwarded-For is believed (exact addresses). */
  trustedProxies: string[];
  /** How long the backend keeps telemetry minute and hour rollups (days are kept); hours at least as long as minutes. */
  telemetryRetention: { minutesMs: number; hoursMs: number };
  /**
   * How long the quarantine index keeps a copy that left the quarantine (released, or its bytes deleted on its node);
   * held copies stay until their node purges them.
   */
  quarantineIndexRetentionMs: number;
  /** How long the shadow report keeps its day counts and samples (server/jobs/shadow-report-prune.ts). */
  shadowReportRetentionMs: number;
  /** Slug of the section the MX nodes report telemetry for (its /status.json entry carries their summary). */
  telemetrySection: string;
  /** When the telemetry section's light turns unknown or to active issues (server/services/telemetry/health.ts). */
  telemetryHealth: TelemetryHealthConfig;
  /** Bearer token for the backend's GET /metrics; null: /metrics answers loopback requests that no proxy passed on. */
  metricsToken: string | null;
  /**
   * The old MX of legacy/shadow domains without a legacy host of their own (TIDINGS_LEGACY_HOST/_PORT; port null: 25);
   * null: every such domain needs its own (server/services/mail/legacyDefault.ts).
   */
  legacyDefault: LegacyDefault;
  /** Subscriber mail (issue 14): the outbound relay, apart from the Tidings MX; null: nothing is sent (rows wait). */
  notifySmtpUrl: string | null;
  /** The From of subscriber mail (an address, optionally with a display name: `Tidings <status@example.org>`). */
  notifyFrom: string;
}

export interface TelemetryHealthConfig {
  /** No heartbeat from any node for this long: unknown (once a node has ever reported). */
  staleAfterMs: number;
  /** p95 accept-to-delivery latency above this over the sustain window: active issues. */
  p95ThresholdMs: number;
  /** The window of whole minutes the p95 and the tempfail ratio are measured over. */
  p95SustainMs: number;
  /** deferred / (delivered + deferred) above this over the same window: active issues (0 < ratio < 1). */
  tempfailRatio: number;
  /** A fresh node's oldest queued delivery older than this: active issues. */
  oldestQueuedMs: number;
}

export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  const httpPort = port(env, 'TIDINGS_HTTP_PORT', 8080);
  const httpHost = listenHost(env, 'TIDINGS_HTTP_HOST');
  const publicUrl = env.TIDINGS_PUBLIC_URL || `http://localhost:${httpPort}`;
  try {
    const u = new URL(publicUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw new ConfigError('TIDINGS_PUBLIC_URL', `must be an http(s) URL, got "${publicUrl}"`);
  }
  const tz = env.TIDINGS_DISPLAY_TZ || 'UTC';
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: tz });
  } catch {
    throw new ConfigError('TIDINGS_DISPLAY_TZ', `must be an IANA time zone such as Europe/Berlin, got "${tz}"`);
  }
  return {
    stateDir: resolve(cwd, env.TIDINGS_STATE_DIR || 'state'),
    httpHost,
    httpPort,
    smtpHost: listenHost(env, 'TIDINGS_SMTP_HOST'),
    smtpPort: port(env, 'TIDINGS_SMTP_PORT', 2525),
    publicUrl: publicUrl.replace(/\/+$/, ''),
    displayTimeZone: tz,
    logLevel: oneOf(env, 'TIDINGS_LOG_LEVEL', ['debug', 'info', 'warn', 'error', 'silent'] as const, 'info'),
    role: oneOf(env, 'TIDINGS_ROLE', ['all-in-one', 'backend'] as const, 'all-in-one'),
    webhookAllowPrivate: oneOf(env, 'TIDINGS_WEBHOOK_ALLOW_PRIVATE', ['on', 'off'] as const, 'off') === 'on',
    trustedProxies: ipList(env, 'TIDINGS_TRUSTED_PROXIES'),
    telemetryRetention: telemetryRetention(env),
    quarantineIndexRetentionMs: duration(env, 'TIDINGS_QUARANTINE_INDEX_RETENTION', 90 * UNIT_MS.d, false, '30d, 90d or 400d'),
    shadowReportRetentionMs: duration(env, 'TIDINGS_SHADOW_REPORT_RETENTION', 30 * UNIT_MS.d, false, '7d, 30d or 90d'),
    telemetrySection: sectionSlug(env, 'TIDINGS_TELEMETRY_SECTION', 'email'),
    metricsToken: metricsToken(env),
    legacyDefault: legacyDefault(env),
    telemetryHealth: telemetryHealth(env),
    notifySmtpUrl: notifySmtpUrl(env),
    notifyFrom: notifyFrom(env, publicUrl),
  };
}

/** smtp:// (STARTTLS when offered) or smtps:// (TLS from the first byte), with optional user:password@ and ?options. */
function notifySmtpUrl(env: Env): string | null {
  const raw = env.TIDINGS_NOTIFY_SMTP_URL;
  if (raw === undefined || raw === '') return null;
  const bad = new ConfigError(
    'TIDINGS_NOTIFY_SMTP_URL',
    `must be an smtp:// or smtps:// URL such as smtp://relay.example.org:587, got "${raw}"`,
  );
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw bad;
  }
  if ((u.protocol !== 'smtp:' && u.protocol !== 'smtps:') || u.hostname === '') throw bad;
  return raw;
}

function notifyFrom(env: Env, publicUrl: string): string {
  const raw = env.TIDINGS_NOTIFY_FROM;
  if (raw === undefined || raw === '') return `Tidings <noreply@${new URL(publicUrl).hostname}>`;
  // An address, or a display name without quotes, angle brackets or control characters followed by <address>.
  if (!/^(?:[^"<>\p{Cc}]{1,100} <[^\s<>@]+@[^\s<>@]+>|[^\s<>@]+@[^\s<>@]+)$/u.test(raw))
    throw new ConfigError('TIDINGS_NOTIFY_FROM', `must be an address or Name <address>, got "${raw}"`);
  return raw;
}

function telemetryHealth(env: Env): TelemetryHealthConfig {
  const raw = env.TIDINGS_TELEMETRY_TEMPFAIL_RATIO;
  let tempfailRatio = 0.05;
  if (raw !== undefined && raw !== '') {
    const m = /^(\d{1,2}(?:\.\d{1,3})?)%$/.exec(raw);
    if (!m || Number(m[1]) <= 0 || Number(m[1]) >= 100)
      throw new ConfigError(
        'TIDINGS_TELEMETRY_TEMPFAIL_RATIO',
        `must be a percentage above 0 and below 100 such as 5% or 2.5%, got "${raw}"`,
      );
    tempfailRatio = Number(m[1]) / 100;
  }
  const ex = '30s, 5m or 1h';
  return {
    staleAfterMs: duration(env, 'TIDINGS_TELEMETRY_STALE_AFTER', 5 * UNIT_MS.m, false, ex),
    p95ThresholdMs: duration(env, 'TIDINGS_TELEMETRY_P95_THRESHOLD', 5 * UNIT_MS.m, false, ex),
    p95SustainMs: wholeMinutes(env, 'TIDINGS_TELEMETRY_P95_SUSTAIN', 10 * UNIT_MS.m),
    tempfailRatio,
    oldestQueuedMs: duration(env, 'TIDINGS_TELEMETRY_OLDEST_QUEUED_THRESHOLD', 30 * UNIT_MS.m, false, ex),
  };
}

/** A duration of whole minutes (the rollups are per minute), at most a day. */
function wholeMinutes(env: Env, name: string, fallbackMs: number): number {
  const ms = duration(env, name, fallbackMs, false, '10m or 1h');
  if (ms % UNIT_MS.m !== 0 || ms > UNIT_MS.d)
    throw new ConfigError(name, `must be whole minutes up to 1d such as 10m or 1h, got "${env[name]}"`);
  return ms;
}

export type LegacyDefault = { host: string; port: number | null } | null;

function legacyDefault(env: Env): LegacyDefault {
  const raw = env.TIDINGS_LEGACY_HOST;
  if (raw === undefined || raw === '') {
    if (env.TIDINGS_LEGACY_PORT) throw new ConfigError('TIDINGS_LEGACY_PORT', 'needs TIDINGS_LEGACY_HOST (the old MX it is the port of)');
    return null;
  }
  const host = HostName.safeParse(raw);
  if (!host.success)
    throw new ConfigError('TIDINGS_LEGACY_HOST', `must be a host name or IP address such as old-mx.example.org, got "${raw}"`);
  const given = env.TIDINGS_LEGACY_PORT;
  const p = given === undefined || given === '' ? null : port(env, 'TIDINGS_LEGACY_PORT', 25);
  if (p === 0) throw new ConfigError('TIDINGS_LEGACY_PORT', 'must be a TCP port 1-65535, got "0"');
  return { host: host.data, port: p };
}

function metricsToken(env: Env): string | null {
  const raw = env.TIDINGS_METRICS_TOKEN;
  if (raw === undefined || raw === '') return null;
  if (!/^[\x21-\x7e]{16,}$/.test(raw))
    throw new ConfigError('TIDINGS_METRICS_TOKEN', 'must be at least 16 printable characters without spaces');
  return raw;
}

/** A section slug as the sections table allows it (lower-case letters, digits and dashes, at most 60). */
function sectionSlug(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[a-z0-9][a-z0-9-]{0,59}$/.test(raw))
    throw new ConfigError(name, `must be a section slug (lower-case letters, digits and dashes, such as email), got "${raw}"`);
  return raw;
}

function telemetryRetention(env: Env): Config['telemetryRetention'] {
  const minutesMs = duration(env, 'TIDINGS_TELEMETRY_MINUTES_RETENTION', 14 * UNIT_MS.d, false, '36h, 14d or 30d');
  const hoursMs = duration(env, 'TIDINGS_TELEMETRY_HOURS_RETENTION', 400 * UNIT_MS.d, false, '30d, 400d or 1000d');
  if (hoursMs < minutesMs)
    throw new ConfigError(
      'TIDINGS_TELEMETRY_HOURS_RETENTION',
      `must be at least TIDINGS_TELEMETRY_MINUTES_RETENTION (hours are rolled from minutes), got "${env.TIDINGS_TELEMETRY_HOURS_RETENTION ?? ''}"`,
    );
  return { minutesMs, hoursMs };
}
