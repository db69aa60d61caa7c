// Reading TIDINGS_* variables: the error every setting reports with, and the parsers the backend and node settings share.
import { accessSync, constants } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';

export class ConfigError extends Error {
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.variable = variable;
  }
}

export type Env = Record<string, string | undefined>;

export function port(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) throw new ConfigError(name, `must be a TCP port 0-65535, got "${raw}"`);
  return Number(raw);
}

export function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${raw}"`);
  return raw as T;
}

/** A listen address: an IP literal or `localhost` (names would need DNS at start-up and may resolve anywhere). */
export function listenHost(env: Env, name: string): string {
  const raw = env[name];
  if (raw === undefined || raw === '') return '127.0.0.1';
  if (raw !== 'localhost' && isIP(raw) === 0)
    throw new ConfigError(name, `must be an IP address to listen on (such as 127.0.0.1, 0.0.0.0 or ::), got "${raw}"`);
  return raw;
}

/** A comma-separated setting's items, trimmed, empty ones dropped; [] when unset. */
export function commaList(env: Env, name: string): string[] {
  const raw = env[name];
  if (raw === undefined) return [];
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function ipList(env: Env, name: string): string[] {
  const items = commaList(env, name);
  for (const ip of items) {
    if (isIP(ip) === 0) throw new ConfigError(name, `must be a comma-separated list of IP addresses, got "${ip}"`);
  }
  return items;
}

export const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Durations such as `30m`, `4h`, `5d` (or `10s`); a bare `0` where zero means "off". */
export function duration(env: Env, name: string, fallbackMs: number, allowZero: boolean, examples = '30m, 4h or 5d'): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallbackMs;
  if (allowZero && raw === '0') return 0;
  const m = /^(\d{1,6})([smhd])$/.exec(raw);
  if (!m || Number(m[1]) === 0)
    throw new ConfigError(name, `must be a duration such as ${examples}${allowZero ? ' (or 0 for off)' : ''}, got "${raw}"`);
  return Number(m[1]) * UNIT_MS[m[2]];
}

export function positiveInt(env: Env, name: string, fallback: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max)
    throw new ConfigError(name, `must be a whole number from 1 to ${max}, got "${raw}"`);
  return Number(raw);
}

export function readableFile(env: Env, name: string, cwd: string): string | null {
  const raw = env[name];
  if (raw === undefined || raw === '') return null;
  const file = resolve(cwd, raw);
  try {
    accessSync(file, constants.R_OK);
  } catch {
    throw new ConfigError(name, `must name a readable file, got "${raw}"`);
  }
  return file;
}
