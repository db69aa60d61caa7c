// The telemetry section's thresholds: defaults per issue 10, and a bad value is a ConfigError naming its variable.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '#data/config.ts';

test('telemetry thresholds: 5 min stale, p95 over 5 min for 10 min, 5 % tempfail, 30 min oldest queued', () => {
  assert.deepEqual(loadConfig({}, '/srv/t').telemetryHealth, {
    staleAfterMs: 300_000,
    p95ThresholdMs: 300_000,
    p95SustainMs: 600_000,
    tempfailRatio: 0.05,
    oldestQueuedMs: 1_800_000,
  });
  const env = {
    TIDINGS_TELEMETRY_STALE_AFTER: '90s',
    TIDINGS_TELEMETRY_P95_THRESHOLD: '2m',
    TIDINGS_TELEMETRY_P95_SUSTAIN: '1h',
    TIDINGS_TELEMETRY_TEMPFAIL_RATIO: '2.5%',
    TIDINGS_TELEMETRY_OLDEST_QUEUED_THRESHOLD: '1h',
  };
  assert.deepEqual(loadConfig(env, '/srv/t').telemetryHealth, {
    staleAfterMs: 90_000,
    p95ThresholdMs: 120_000,
    p95SustainMs: 3_600_000,
    tempfailRatio: 0.025,
    oldestQueuedMs: 3_600_000,
  });
});

test('telemetry thresholds: bad values name their variable', () => {
  const bad: [string, string][] = [
    ['TIDINGS_TELEMETRY_STALE_AFTER', '0'],
    ['TIDINGS_TELEMETRY_STALE_AFTER', '5'],
    ['TIDINGS_TELEMETRY_P95_THRESHOLD', '-1m'],
    ['TIDINGS_TELEMETRY_P95_SUSTAIN', '90s'],
    ['TIDINGS_TELEMETRY_P95_SUSTAIN', '2d'],
    ['TIDINGS_TELEMETRY_TEMPFAIL_RATIO', '0.05'],
    ['TIDINGS_TELEMETRY_TEMPFAIL_RATIO', '0%'],
    ['TIDINGS_TELEMETRY_TEMPFAIL_RATIO', '100%'],
    ['TIDINGS_TELEMETRY_OLDEST_QUEUED_THRESHOLD', 'soon'],
  ];
  for (const [variable, value] of bad)
    assert.throws(
      () => loadConfig({ [variable]: value }, '/srv/t'),
      (e: unknown) => e instanceof ConfigError && e.variable === variable,
      `${variable}=${value}`,
    );
});
