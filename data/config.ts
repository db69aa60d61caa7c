// Reads TIDINGS_* environment variables into one checked configuration object.
import { isIP } from 'node:net';
import { resolve } from 'node:path';

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
  /** Reverse proxies whose X-Forwarded-For is believed (exact addresses). */
  trustedProxies: string[];
}

export class ConfigError extends Error {
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.variable = variable;
  }
}

type Env = Record<string, string | undefined>;

function port(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) throw new ConfigError(name, `must be a TCP port 0-65535, got "${raw}"`);
  return Number(raw);
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${raw}"`);
  return raw as T;
}

/** A listen address: an IP literal or `localhost` (names would need DNS at start-up and may resolve anywhere). */
function listenHost(env: Env, name: string): string {
  const raw = env[name];
  if (raw === undefined || raw === '') return '127.0.0.1';
  if (raw !== 'localhost' && isIP(raw) === 0) throw new ConfigError(name, `must be an IP address to listen on (such as 127.0.0.1, 0.0.0.0 or ::), got "${raw}"`);
  return raw;
}

function ipList(env: Env, name: string): string[] {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return [];
  const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const ip of items) {
    if (isIP(ip) === 0) throw new ConfigError(name, `must be a comma-separated list of IP addresses, got "${ip}"`);
  }
  return items;
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
    trustedProxies: ipList(env, 'TIDINGS_TRUSTED_PROXIES'),
  };
}
