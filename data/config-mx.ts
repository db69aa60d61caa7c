// Reads the MX node's TIDINGS_* settings (mailsystem/main.ts) on top of the shared ones in data/config.ts.
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import type { Config } from './config.ts';
import { ConfigError, commaList, duration, type Env, listenHost, oneOf, port, positiveInt, readableFile, UNIT_MS } from './config-env.ts';
import { TELEMETRY_MAX_BATCH } from './contracts/telemetry.ts';

/** What an MX node needs besides the common settings (read by mailsystem/main.ts). */
export interface MxConfig {
  /** Backend to fetch the mail configuration from; null: serve the local replica only. */
  backend: { url: string; token: string } | null;
  /** Name in the greeting and Received headers. */
  hostname: string;
  srsDomain: string;
  /** Secrets from the environment (the first signs, all verify); empty: use the one kept in the state folder. */
  srsSecrets: string[];
  maildirRoot: string;
  /** Drain and exit when standard input closes (the all-in-one supervisor's pipe). */
  exitWithParent: boolean;
  /**
   * 'listen': bind TIDINGS_SMTP_HOST:TIDINGS_SMTP_PORT (with SO_REUSEPORT); 'parent': take the listening socket the
   * supervising process sends over the IPC channel (server/embedded-mx.ts), so restarts never close it.
   */
  smtpSocket: 'listen' | 'parent';
  /** PEM files for STARTTLS/implicit TLS; null: a self-signed certificate generated into the state folder. */
  tlsFiles: { cert: string; key: string } | null;
  implicitTls: boolean;
  maxMessageBytes: number;
  maxConnectionsPerIp: number;
  /** Unknown recipients per SMTP session before 421 4.7.0 (against address harvesting). */
  maxUnknownRecipients: number;
  /** Give up (and bounce) after this long in the queue. */
  queueMaxAgeMs: number;
  /** The wait after a delivery's first temporary failure; it doubles on each further one, up to an hour. */
  queueFirstRetryMs: number;
  /** Tell the sender about a delay after this long; 0: never. */
  delayedDsnAfterMs: number;
  /** How often the node asks the backend for configuration changes. */
  syncIntervalMs: number;
  /** Smarthost for all forwarded mail (no MX lookup); null: each recipient domain's MX. */
  forwardRelay: { host: string; port: number } | null;
  /** SMTP port of remote MX hosts (25; tests point it at a loopback server). */
  forwardPort: number;
  /** Name servers as "ip", "ip:port" or "[ipv6]:port"; empty: the system's resolv.conf. */
  dnsServers: string[];
  /** Shipping the event log to the backend (on by default with a backend); null: off. */
  telemetry: TelemetrySettings | null;
  /** Prometheus /metrics on a listener of its own; null (the default): no listener. Loopback unless told. */
  metrics: { host: string; port: number } | null;
  /** When delivery falls behind, DATA replies are delayed and then refused (mailsystem/queue/flow-control.ts). */
  flow: FlowLimits;
  /** Quarantined copies are deleted after this long. */
  quarantineRetentionMs: number;
  /** Content checks during DATA (rspamd, clamd, mailauth); off only when TIDINGS_SCAN=off says so. */
  scan: ScanSettings;
  /** RCPT probes to the legacy MX for legacy/shadow domains without imported configuration (mailsystem/legacy/probe.ts). */
  legacyProbe: LegacyProbeSettings;
}

export interface LegacyProbeSettings {
  /** The whole probe, connect to the RCPT reply; then 451 4.4.3. */
  timeoutMs: number;
  /** How long "the address exists" is reused. */
  positiveTtlMs: number;
  /** How long "no such address" is reused. */
  negativeTtlMs: number;
  /** Probes in flight at once per legacy host and port; a further one waits for a slot up to half the timeout, then 451. */
  concurrency: number;
}

export const DEFAULT_LEGACY_PROBE: LegacyProbeSettings = {
  timeoutMs: 10 * UNIT_MS.s,
  positiveTtlMs: 10 * UNIT_MS.m,
  negativeTtlMs: 2 * UNIT_MS.m,
  concurrency: 10,
};

export interface ScanSettings {
  mode: 'on' | 'off';
  /** rspamd's normal worker (POST /checkv2). */
  rspamdUrl: string;
  /** clamd's TCP socket (zINSTREAM). */
  clamd: { host: string; port: number };
  /** Per check: authentication, spam and virus each get this long, then the message gets 451 4.7.1. */
  timeoutMs: number;
  /** Connections to rspamd and to clamd at most. */
  connections: number;
  /** clamd's StreamMaxLength: longer messages are not clean (451) without being sent. */
  clamdStreamMax: number;
}

function scanSettings(env: Env): ScanSettings {
  const rspamd = env.TIDINGS_RSPAMD_URL || 'http://127.0.0.1:11333';
  let url: URL | null = null;
  try {
    url = new URL(rspamd);
  } catch {
    url = null;
  }
  // rspamd's workers speak plain HTTP only (the client refuses anything else).
  if (url?.protocol !== 'http:')
    throw new ConfigError('TIDINGS_RSPAMD_URL', `must be an http:// URL such as http://127.0.0.1:11333, got "${rspamd}"`);
  const clamdRaw = env.TIDINGS_CLAMD_ADDRESS || '127.0.0.1:3310';
  const clamd = parseHostPort(clamdRaw, 3310);
  if (!clamd) throw new ConfigError('TIDINGS_CLAMD_ADDRESS', `must be host:port such as 127.0.0.1:3310, got "${clamdRaw}"`);
  return {
    mode: oneOf(env, 'TIDINGS_SCAN', ['on', 'off'] as const, 'on'),
    rspamdUrl: rspamd.replace(/\/+$/, ''),
    clamd,
    timeoutMs: duration(env, 'TIDINGS_SCAN_TIMEOUT', 20 * UNIT_MS.s, false, '10s, 20s or 1m'),
    connections: positiveInt(env, 'TIDINGS_SCAN_CONNECTIONS', 16, 1000),
    clamdStreamMax: positiveInt(env, 'TIDINGS_CLAMD_STREAM_MAX', 25 * 1024 * 1024, 4 * 1024 * 1024 * 1024),
  };
}

/** Flow control's thresholds: between soft and hard the reply to DATA is delayed in proportion; at hard, 451 4.3.1. */
export interface FlowLimits {
  /** Deliveries waiting for the worker (due, not in hand). */
  softDepth: number;
  hardDepth: number;
  /** Age of the oldest waiting delivery, in milliseconds. */
  softAgeMs: number;
  hardAgeMs: number;
  /** The longest delay of a DATA reply, reached just below a hard limit (as Postfix's in_flow_delay). 0: no delay. */
  maxDelayMs: number;
}

/** A backlog of 2,000 is about a second of delivery on a 2-CPU node; the age limits keep the worst delay near 5 s. */
export const DEFAULT_FLOW_LIMITS: FlowLimits = { softDepth: 2000, hardDepth: 20_000, softAgeMs: 1000, hardAgeMs: 5000, maxDelayMs: 1000 };

function flowLimits(env: Env): FlowLimits {
  const d = DEFAULT_FLOW_LIMITS;
  const limits: FlowLimits = {
    softDepth: positiveInt(env, 'TIDINGS_FLOW_QUEUE_SOFT', d.softDepth, 10_000_000),
    hardDepth: positiveInt(env, 'TIDINGS_FLOW_QUEUE_HARD', d.hardDepth, 10_000_000),
    softAgeMs: duration(env, 'TIDINGS_FLOW_AGE_SOFT', d.softAgeMs, false, '1s, 30s or 5m'),
    hardAgeMs: duration(env, 'TIDINGS_FLOW_AGE_HARD', d.hardAgeMs, false, '5s, 1m or 10m'),
    maxDelayMs: duration(env, 'TIDINGS_FLOW_MAX_DELAY', d.maxDelayMs, true, '1s or 5s'),
  };
  if (limits.softDepth >= limits.hardDepth)
    throw new ConfigError(
      'TIDINGS_FLOW_QUEUE_SOFT',
      `must be below TIDINGS_FLOW_QUEUE_HARD (${limits.hardDepth}), got ${limits.softDepth}`,
    );
  if (limits.softAgeMs >= limits.hardAgeMs)
    throw new ConfigError(
      'TIDINGS_FLOW_AGE_SOFT',
      `must be below TIDINGS_FLOW_AGE_HARD (${limits.hardAgeMs / 1000}s), got ${limits.softAgeMs / 1000}s`,
    );
  return limits;
}

export interface TelemetrySettings {
  /** Pause between shipping ticks once the log is shipped up to date (a backlog ships without pause). */
  intervalMs: number;
  heartbeatIntervalMs: number;
  /** Events per POST, at most TELEMETRY_MAX_BATCH. */
  batchSize: number;
  /** Shipped events older than this are pruned from the node's log. */
  retentionMs: number;
}

const DOMAIN_NAME = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

function domainName(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!DOMAIN_NAME.test(raw)) throw new ConfigError(name, `must be a domain name such as mx1.example.net, got "${raw}"`);
  return raw.toLowerCase();
}

/** `host`, `host:port` or `[ipv6]:port`, where host is a domain name or an IP address; null when malformed. */
function parseHostPort(raw: string, defaultPort: number): { host: string; port: number } | null {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(raw);
  const plain = /^([^:]+)(?::(\d+))?$/.exec(raw);
  let host: string;
  let portText: string | undefined;
  if (bracketed && isIP(bracketed[1]) === 6) [, host, portText] = bracketed;
  else if (isIP(raw) === 6) host = raw;
  else if (plain && (isIP(plain[1]) === 4 || DOMAIN_NAME.test(plain[1]))) [, host, portText] = plain;
  else return null;
  const port = portText === undefined ? defaultPort : Number(portText);
  if (port < 1 || port > 65535) return null;
  return { host: host.toLowerCase(), port };
}

function forwardRelay(env: Env, name: string): { host: string; port: number } | null {
  const raw = env[name];
  if (raw === undefined || raw === '') return null;
  const relay = parseHostPort(raw, 25);
  if (!relay)
    throw new ConfigError(
      name,
      `must be a host name or IP address with an optional port, such as smtp.example.net:587 or [2001:db8::25]:25, got "${raw}"`,
    );
  return relay;
}

function remotePort(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 65535) throw new ConfigError(name, `must be a TCP port 1-65535, got "${raw}"`);
  return Number(raw);
}

/** Name servers by address (a name would need DNS to find DNS), in the forms node:dns's setServers takes. */
function dnsServers(env: Env, name: string): string[] {
  const items = commaList(env, name);
  for (const item of items) {
    const server = parseHostPort(item, 53);
    if (!server || isIP(server.host) === 0)
      throw new ConfigError(
        name,
        `must be a comma-separated list of IP addresses, each with an optional port (192.0.2.53, 192.0.2.53:5353, [2001:db8::53]:53), got "${item}"`,
      );
  }
  return items;
}

export function loadMxConfig(base: Config, env: Env = process.env, systemHostname = 'localhost', cwd = process.cwd()): MxConfig {
  const url = env.TIDINGS_MX_BACKEND_URL || '';
  const token = env.TIDINGS_MX_TOKEN || '';
  if (url) {
    let ok = false;
    try {
      ok = ['http:', 'https:'].includes(new URL(url).protocol);
    } catch {
      ok = false;
    }
    if (!ok) throw new ConfigError('TIDINGS_MX_BACKEND_URL', `must be an http(s) URL, got "${url}"`);
  }
  if (Boolean(url) !== Boolean(token)) {
    throw new ConfigError(
      url ? 'TIDINGS_MX_TOKEN' : 'TIDINGS_MX_BACKEND_URL',
      'TIDINGS_MX_BACKEND_URL and TIDINGS_MX_TOKEN go together: set both or neither',
    );
  }
  const hostname = domainName(env, 'TIDINGS_MX_HOSTNAME', DOMAIN_NAME.test(systemHostname) ? systemHostname : 'localhost');
  const srsSecrets = (env.TIDINGS_SRS_SECRETS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (srsSecrets.some((s) => s.length < 16)) throw new ConfigError('TIDINGS_SRS_SECRETS', 'each secret must be at least 16 characters');
  const config: MxConfig = {
    backend: url ? { url: url.replace(/\/+$/, ''), token } : null,
    hostname,
    srsDomain: domainName(env, 'TIDINGS_SRS_DOMAIN', hostname),
    srsSecrets,
    maildirRoot: env.TIDINGS_MAILDIR_ROOT ? resolve(cwd, env.TIDINGS_MAILDIR_ROOT) : resolve(base.stateDir, 'mx', 'mail'),
    exitWithParent: env.TIDINGS_MX_EXIT_WITH_PARENT === '1',
    smtpSocket: oneOf(env, 'TIDINGS_MX_SMTP_SOCKET', ['listen', 'parent'] as const, 'listen'),
    tlsFiles: tlsFiles(env, cwd),
    implicitTls: oneOf(env, 'TIDINGS_SMTP_IMPLICIT_TLS', ['0', '1'] as const, '0') === '1',
    maxMessageBytes: positiveInt(env, 'TIDINGS_SMTP_MAX_MESSAGE_BYTES', 25 * 1024 * 1024, 1024 * 1024 * 1024),
    maxConnectionsPerIp: positiveInt(env, 'TIDINGS_SMTP_MAX_CONNECTIONS_PER_IP', 20, 100_000),
    maxUnknownRecipients: positiveInt(env, 'TIDINGS_SMTP_MAX_UNKNOWN_RECIPIENTS', 10, 100_000),
    queueMaxAgeMs: duration(env, 'TIDINGS_QUEUE_MAX_AGE', 5 * UNIT_MS.d, false),
    queueFirstRetryMs: duration(env, 'TIDINGS_QUEUE_FIRST_RETRY', UNIT_MS.m, false, '10s, 1m or 5m'),
    delayedDsnAfterMs: duration(env, 'TIDINGS_QUEUE_DELAYED_DSN_AFTER', 4 * UNIT_MS.h, true),
    syncIntervalMs: duration(env, 'TIDINGS_MX_SYNC_INTERVAL', 10 * UNIT_MS.s, false, '1s, 10s or 5m'),
    forwardRelay: forwardRelay(env, 'TIDINGS_FORWARD_RELAY'),
    forwardPort: remotePort(env, 'TIDINGS_FORWARD_PORT', 25),
    dnsServers: dnsServers(env, 'TIDINGS_DNS_SERVERS'),
    telemetry: telemetrySettings(env, Boolean(url)),
    metrics: mxMetrics(env),
    flow: flowLimits(env),
    quarantineRetentionMs: duration(env, 'TIDINGS_QUARANTINE_RETENTION', 30 * UNIT_MS.d, false, '7d, 30d or 90d'),
    scan: scanSettings(env),
    legacyProbe: {
      timeoutMs: duration(env, 'TIDINGS_LEGACY_PROBE_TIMEOUT', DEFAULT_LEGACY_PROBE.timeoutMs, false, '5s, 10s or 30s'),
      positiveTtlMs: duration(env, 'TIDINGS_LEGACY_PROBE_POSITIVE_TTL', DEFAULT_LEGACY_PROBE.positiveTtlMs, true, '5m, 10m or 1h'),
      negativeTtlMs: duration(env, 'TIDINGS_LEGACY_PROBE_NEGATIVE_TTL', DEFAULT_LEGACY_PROBE.negativeTtlMs, true, '1m, 2m or 10m'),
      concurrency: positiveInt(env, 'TIDINGS_LEGACY_PROBE_CONCURRENCY', DEFAULT_LEGACY_PROBE.concurrency, 1000),
    },
  };
  // A message clamd will not take is not clean: it would get 451 at every try until the sender gave up, days later.
  // The size limit the node advertises must fit in what clamd scans (the checks send the message as received).
  if (config.scan.mode === 'on' && config.maxMessageBytes > config.scan.clamdStreamMax)
    throw new ConfigError(
      'TIDINGS_SMTP_MAX_MESSAGE_BYTES',
      `is ${config.maxMessageBytes}, above TIDINGS_CLAMD_STREAM_MAX (${config.scan.clamdStreamMax}): clamd could not scan the largest messages, which would be refused with 451 until they expire. Lower it, or raise clamd's StreamMaxLength and TIDINGS_CLAMD_STREAM_MAX together`,
    );
  return config;
}

/** Off unless TIDINGS_MX_METRICS_PORT is set (0 binds any free port); TIDINGS_MX_METRICS_HOST defaults to 127.0.0.1. */
function mxMetrics(env: Env): MxConfig['metrics'] {
  const host = listenHost(env, 'TIDINGS_MX_METRICS_HOST');
  const raw = env.TIDINGS_MX_METRICS_PORT;
  if (raw === undefined || raw === '') {
    if (env.TIDINGS_MX_METRICS_HOST)
      throw new ConfigError('TIDINGS_MX_METRICS_HOST', 'is set, but /metrics is off: set TIDINGS_MX_METRICS_PORT too');
    return null;
  }
  return { host, port: port(env, 'TIDINGS_MX_METRICS_PORT', 0) };
}

function telemetrySettings(env: Env, haveBackend: boolean): TelemetrySettings | null {
  const mode = oneOf(env, 'TIDINGS_TELEMETRY', ['on', 'off'] as const, haveBackend ? 'on' : 'off');
  if (mode === 'on' && !haveBackend)
    throw new ConfigError(
      'TIDINGS_TELEMETRY',
      'is on, but there is no backend to ship to: set TIDINGS_MX_BACKEND_URL and TIDINGS_MX_TOKEN',
    );
  const settings = {
    intervalMs: duration(env, 'TIDINGS_TELEMETRY_INTERVAL', 2 * UNIT_MS.s, false, '1s, 2s or 1m'),
    heartbeatIntervalMs: duration(env, 'TIDINGS_TELEMETRY_HEARTBEAT_INTERVAL', 15 * UNIT_MS.s, false, '1s, 15s or 1m'),
    batchSize: positiveInt(env, 'TIDINGS_TELEMETRY_BATCH', 500, TELEMETRY_MAX_BATCH),
    retentionMs: duration(env, 'TIDINGS_TELEMETRY_RETENTION', 7 * UNIT_MS.d, false, '12h, 7d or 30d'),
  };
  return mode === 'on' ? settings : null;
}

function tlsFiles(env: Env, cwd: string): { cert: string; key: string } | null {
  const cert = readableFile(env, 'TIDINGS_SMTP_TLS_CERT', cwd);
  const key = readableFile(env, 'TIDINGS_SMTP_TLS_KEY', cwd);
  if (Boolean(cert) !== Boolean(key)) {
    throw new ConfigError(
      cert ? 'TIDINGS_SMTP_TLS_KEY' : 'TIDINGS_SMTP_TLS_CERT',
      'TIDINGS_SMTP_TLS_CERT and TIDINGS_SMTP_TLS_KEY go together: set both or neither',
    );
  }
  return cert && key ? { cert, key } : null;
}
