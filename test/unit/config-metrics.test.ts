// The /metrics settings: TIDINGS_MX_METRICS_PORT/_HOST on the node (off and loopback by default) and the backend's
// TIDINGS_METRICS_TOKEN; a bad value is a ConfigError naming the variable (mailsystem/main.ts and server/main.ts exit 2).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '#data/config.ts';
import { loadMxConfig } from '#data/config-mx.ts';

const base = loadConfig({}, '/srv/t');

test('MX /metrics: off by default, loopback when only the port is set, the host when both are', () => {
  assert.equal(loadMxConfig(base, {}, 'h').metrics, null);
  assert.deepEqual(loadMxConfig(base, { TIDINGS_MX_METRICS_PORT: '9464' }, 'h').metrics, { host: '127.0.0.1', port: 9464 });
  assert.deepEqual(loadMxConfig(base, { TIDINGS_MX_METRICS_PORT: '0', TIDINGS_MX_METRICS_HOST: '::' }, 'h').metrics, {
    host: '::',
    port: 0,
  });
});

test('MX /metrics: bad values name their variable', () => {
  const bad: [Record<string, string>, string][] = [
    [{ TIDINGS_MX_METRICS_PORT: '70000' }, 'TIDINGS_MX_METRICS_PORT'],
    [{ TIDINGS_MX_METRICS_PORT: 'x' }, 'TIDINGS_MX_METRICS_PORT'],
    [{ TIDINGS_MX_METRICS_PORT: '9464', TIDINGS_MX_METRICS_HOST: 'metrics.example' }, 'TIDINGS_MX_METRICS_HOST'],
    [{ TIDINGS_MX_METRICS_HOST: '0.0.0.0' }, 'TIDINGS_MX_METRICS_HOST'],
  ];
  for (const [env, variable] of bad)
    assert.throws(
      () => loadMxConfig(base, env, 'h'),
      (e: unknown) => e instanceof ConfigError && e.variable === variable,
      JSON.stringify(env),
    );
});

test('backend TIDINGS_METRICS_TOKEN: null by default, at least 16 printable characters', () => {
  assert.equal(base.metricsToken, null);
  assert.equal(loadConfig({ TIDINGS_METRICS_TOKEN: 'a'.repeat(16) }, '/srv/t').metricsToken, 'a'.repeat(16));
  for (const raw of ['short', `${'a'.repeat(16)} b`])
    assert.throws(
      () => loadConfig({ TIDINGS_METRICS_TOKEN: raw }, '/srv/t'),
      (e: unknown) => e instanceof ConfigError && e.variable === 'TIDINGS_METRICS_TOKEN',
    );
});
