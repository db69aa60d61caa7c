// Configuration: every bad TIDINGS_* value stops start-up naming the variable; the client address honours only trusted proxies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hono } from 'hono';
import { loadConfig, ConfigError } from '#data/config.ts';
import { loadMxConfig } from '#data/config-mx.ts';
import { clientIp } from '#server/http/session.ts';

test('defaults: state in ./state, HTTP 8080, SMTP 2525, all-in-one, no trusted proxies', () => {
  const c = loadConfig({}, '/srv/tidings');
  assert.equal(c.stateDir, '/srv/tidings/state');
  assert.equal(c.httpPort, 8080);
  assert.equal(c.smtpPort, 2525);
  assert.equal(c.role, 'all-in-one');
  assert.deepEqual(c.trustedProxies, []);
  assert.equal(c.publicUrl, 'http://localhost:8080');
});

for (const [variable, value] of [
  ['TIDINGS_HTTP_PORT', 'abc'],
  ['TIDINGS_HTTP_PORT', '70000'],
  ['TIDINGS_SMTP_PORT', '-1'],
  ['TIDINGS_PUBLIC_URL', 'ftp://x'],
  ['TIDINGS_PUBLIC_URL', 'not a url'],
  ['TIDINGS_DISPLAY_TZ', 'Mars/Olympus'],
  ['TIDINGS_LOG_LEVEL', 'loud'],
  ['TIDINGS_ROLE', 'mx'],
  ['TIDINGS_TRUSTED_PROXIES', '10.0.0.1,proxy.local'],
] as const) {
  test(`${variable}=${value} is refused with a message naming ${variable}`, () => {
    assert.throws(
      () => loadConfig({ [variable]: value }),
      (e: unknown) => e instanceof ConfigError && e.variable === variable && e.message.startsWith(variable),
    );
  });
}

async function ipVia(peer: string, forwardedFor: string | undefined, trusted: string[]): Promise<string> {
  const app = new Hono();
  app.get('/', (c) => c.text(clientIp(c, { trustedProxies: trusted })));
  const headers: Record<string, string> = forwardedFor ? { 'x-forwarded-for': forwardedFor } : {};
  const res = await app.request('/', { headers }, { incoming: { socket: { remoteAddress: peer } } });
  return res.text();
}

test('X-Forwarded-For is ignored unless the peer is a trusted proxy', async () => {
  assert.equal(await ipVia('203.0.113.9', '198.51.100.1', []), '203.0.113.9');
  assert.equal(await ipVia('203.0.113.9', '198.51.100.1', ['127.0.0.1']), '203.0.113.9');
});

test('behind trusted proxies the right-most untrusted hop is the client, so a forged left-most entry does not help', async () => {
  assert.equal(await ipVia('127.0.0.1', '198.51.100.1', ['127.0.0.1']), '198.51.100.1');
  assert.equal(await ipVia('::ffff:127.0.0.1', '6.6.6.6, 198.51.100.1, 10.0.0.2', ['127.0.0.1', '10.0.0.2']), '198.51.100.1');
  assert.equal(await ipVia('127.0.0.1', undefined, ['127.0.0.1']), '127.0.0.1');
});

test('listen hosts must be IP literals or localhost', () => {
  assert.equal(loadConfig({ TIDINGS_HTTP_HOST: '::', TIDINGS_SMTP_HOST: 'localhost' }).httpHost, '::');
  for (const variable of ['TIDINGS_HTTP_HOST', 'TIDINGS_SMTP_HOST']) {
    assert.throws(
      () => loadConfig({ [variable]: 'not a host' }),
      (e: unknown) => e instanceof ConfigError && e.variable === variable,
    );
  }
});

test('MX node settings: defaults from the state folder and host name; backend URL and token go together', () => {
  const base = loadConfig({}, '/srv/t');
  const mx = loadMxConfig(base, {}, 'mx1.example.net', '/srv/t');
  assert.deepEqual(mx, {
    backend: null,
    hostname: 'mx1.example.net',
    srsDomain: 'mx1.example.net',
    srsSecrets: [],
    maildirRoot: '/srv/t/state/mx/mail',
    exitWithParent: false,
    smtpSocket: 'listen',
    tlsFiles: null,
    implicitTls: false,
    maxMessageBytes: 25 * 1024 * 1024,
    maxConnectionsPerIp: 20,
    maxUnknownRecipients: 10,
    queueMaxAgeMs: 5 * 86_400_000,
    queueFirstRetryMs: 60_000,
    delayedDsnAfterMs: 4 * 3_600_000,
    syncIntervalMs: 10_000,
    forwardRelay: null,
    forwardPort: 25,
    dnsServers: [],
    telemetry: null,
    metrics: null,
    flow: { softDepth: 2000, hardDepth: 20_000, softAgeMs: 1000, hardAgeMs: 5000, maxDelayMs: 1000 },
    quarantineRetentionMs: 30 * 86_400_000,
    legacyProbe: { timeoutMs: 10_000, positiveTtlMs: 600_000, negativeTtlMs: 120_000, concurrency: 10 },
    scan: {
      mode: 'on',
      rspamdUrl: 'http://127.0.0.1:11333',
      clamd: { host: '127.0.0.1', port: 3310 },
      timeoutMs: 20_000,
      connections: 16,
      clamdStreamMax: 25 * 1024 * 1024,
    },
  });
  const withBackend = loadMxConfig(
    base,
    {
      TIDINGS_MX_BACKEND_URL: 'https://status.example.net/',
      TIDINGS_MX_TOKEN: 'mxn_x',
      TIDINGS_SRS_DOMAIN: 'SRS.Example.net',
      TIDINGS_SRS_SECRETS: 'aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbb',
    },
    'h',
  );
  assert.deepEqual(withBackend.backend, { url: 'https://status.example.net', token: 'mxn_x' });
  assert.equal(withBackend.srsDomain, 'srs.example.net');
  assert.deepEqual(withBackend.srsSecrets, ['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb']);
  for (const [env, variable] of [
    [{ TIDINGS_MX_BACKEND_URL: 'gopher://x', TIDINGS_MX_TOKEN: 't' }, 'TIDINGS_MX_BACKEND_URL'],
    [{ TIDINGS_MX_BACKEND_URL: 'http://x' }, 'TIDINGS_MX_TOKEN'],
    [{ TIDINGS_MX_TOKEN: 't' }, 'TIDINGS_MX_BACKEND_URL'],
    [{ TIDINGS_MX_HOSTNAME: 'bad host!' }, 'TIDINGS_MX_HOSTNAME'],
    [{ TIDINGS_SRS_DOMAIN: '-x.example' }, 'TIDINGS_SRS_DOMAIN'],
    [{ TIDINGS_SRS_SECRETS: 'short' }, 'TIDINGS_SRS_SECRETS'],
  ] as const) {
    assert.throws(
      () => loadMxConfig(base, env, 'h'),
      (e: unknown) => e instanceof ConfigError && e.variable === variable,
      variable,
    );
  }
});

test('MX limits and queue durations: units, 0 turns the delayed notice off, nonsense is refused', () => {
  const base = loadConfig({}, '/srv/t');
  const mx = loadMxConfig(
    base,
    {
      TIDINGS_QUEUE_MAX_AGE: '3d',
      TIDINGS_QUEUE_DELAYED_DSN_AFTER: '0',
      TIDINGS_QUEUE_FIRST_RETRY: '5s',
      TIDINGS_SMTP_MAX_MESSAGE_BYTES: '1048576',
      TIDINGS_SMTP_MAX_CONNECTIONS_PER_IP: '5',
      TIDINGS_SMTP_IMPLICIT_TLS: '1',
      TIDINGS_SMTP_MAX_UNKNOWN_RECIPIENTS: '3',
      TIDINGS_QUARANTINE_RETENTION: '7d',
      TIDINGS_LEGACY_PROBE_TIMEOUT: '30s',
      TIDINGS_LEGACY_PROBE_POSITIVE_TTL: '1h',
      TIDINGS_LEGACY_PROBE_NEGATIVE_TTL: '0',
      TIDINGS_LEGACY_PROBE_CONCURRENCY: '3',
    },
    'h',
  );
  assert.deepEqual(mx.legacyProbe, { timeoutMs: 30_000, positiveTtlMs: 3_600_000, negativeTtlMs: 0, concurrency: 3 });
  assert.equal(mx.quarantineRetentionMs, 7 * 86_400_000);
  assert.equal(mx.queueMaxAgeMs, 3 * 86_400_000);
  assert.equal(mx.delayedDsnAfterMs, 0);
  assert.equal(mx.queueFirstRetryMs, 5_000);
  assert.equal(loadMxConfig(base, {}, 'h').queueFirstRetryMs, 60_000, 'first retry after a minute by default');
  assert.equal(mx.maxMessageBytes, 1048576);
  assert.equal(mx.maxConnectionsPerIp, 5);
  assert.equal(mx.maxUnknownRecipients, 3);
  assert.equal(mx.implicitTls, true);
  assert.equal(loadMxConfig(base, { TIDINGS_QUEUE_DELAYED_DSN_AFTER: '90m' }, 'h').delayedDsnAfterMs, 90 * 60_000);
  for (const [env, variable] of [
    [{ TIDINGS_QUEUE_MAX_AGE: '0' }, 'TIDINGS_QUEUE_MAX_AGE'],
    [{ TIDINGS_LEGACY_PROBE_TIMEOUT: '0' }, 'TIDINGS_LEGACY_PROBE_TIMEOUT'],
    [{ TIDINGS_LEGACY_PROBE_NEGATIVE_TTL: 'soon' }, 'TIDINGS_LEGACY_PROBE_NEGATIVE_TTL'],
    [{ TIDINGS_LEGACY_PROBE_CONCURRENCY: '0' }, 'TIDINGS_LEGACY_PROBE_CONCURRENCY'],
    [{ TIDINGS_QUEUE_MAX_AGE: '5' }, 'TIDINGS_QUEUE_MAX_AGE'],
    [{ TIDINGS_QUEUE_DELAYED_DSN_AFTER: '4 hours' }, 'TIDINGS_QUEUE_DELAYED_DSN_AFTER'],
    [{ TIDINGS_QUEUE_FIRST_RETRY: '0' }, 'TIDINGS_QUEUE_FIRST_RETRY'],
    [{ TIDINGS_QUARANTINE_RETENTION: '0' }, 'TIDINGS_QUARANTINE_RETENTION'],
    [{ TIDINGS_SMTP_MAX_MESSAGE_BYTES: '0' }, 'TIDINGS_SMTP_MAX_MESSAGE_BYTES'],
    [{ TIDINGS_SMTP_MAX_CONNECTIONS_PER_IP: 'many' }, 'TIDINGS_SMTP_MAX_CONNECTIONS_PER_IP'],
    [{ TIDINGS_SMTP_MAX_UNKNOWN_RECIPIENTS: '0' }, 'TIDINGS_SMTP_MAX_UNKNOWN_RECIPIENTS'],
    [{ TIDINGS_SMTP_IMPLICIT_TLS: 'yes' }, 'TIDINGS_SMTP_IMPLICIT_TLS'],
    [{ TIDINGS_SMTP_TLS_CERT: '/nonexistent/cert.pem', TIDINGS_SMTP_TLS_KEY: '/nonexistent/key.pem' }, 'TIDINGS_SMTP_TLS_CERT'],
    [{ TIDINGS_SMTP_TLS_CERT: '/etc/hostname' }, 'TIDINGS_SMTP_TLS_KEY'],
  ] as const) {
    assert.throws(
      () => loadMxConfig(base, env, 'h'),
      (e: unknown) => e instanceof ConfigError && e.variable === variable,
      variable,
    );
  }
});

test('TIDINGS_MX_SYNC_INTERVAL: 10 s unless set, seconds and longer units, nonsense and 0 are refused naming the variable', () => {
  const base = loadConfig({}, '/srv/t');
  assert.equal(loadMxConfig(base, {}, 'h').syncIntervalMs, 10_000);
  assert.equal(loadMxConfig(base, { TIDINGS_MX_SYNC_INTERVAL: '1s' }, 'h').syncIntervalMs, 1000);
  assert.equal(loadMxConfig(base, { TIDINGS_MX_SYNC_INTERVAL: '5m' }, 'h').syncIntervalMs, 5 * 60_000);
  for (const raw of ['0', '0s', '10', '1.5s', '500ms', 'often']) {
    assert.throws(
      () => loadMxConfig(base, { TIDINGS_MX_SYNC_INTERVAL: raw }, 'h'),
      (e: unknown) => e instanceof ConfigError && e.variable === 'TIDINGS_MX_SYNC_INTERVAL' && /such as 1s, 10s or 5m/.test(e.message),
      raw,
    );
  }
});

test('TIDINGS_TELEMETRY*: on with a backend (2 s, 15 s, 500, 7 d), off without one or when set off; bad values are refused naming the variable', () => {
  const base = loadConfig({}, '/srv/t');
  const backend = { TIDINGS_MX_BACKEND_URL: 'http://127.0.0.1:8080', TIDINGS_MX_TOKEN: 'mxn_x' };
  assert.equal(loadMxConfig(base, {}, 'h').telemetry, null);
  assert.deepEqual(loadMxConfig(base, backend, 'h').telemetry, {
    intervalMs: 2000,
    heartbeatIntervalMs: 15_000,
    batchSize: 500,
    retentionMs: 7 * 86_400_000,
  });
  assert.equal(loadMxConfig(base, { ...backend, TIDINGS_TELEMETRY: 'off' }, 'h').telemetry, null);
  assert.deepEqual(
    loadMxConfig(
      base,
      {
        ...backend,
        TIDINGS_TELEMETRY: 'on',
        TIDINGS_TELEMETRY_INTERVAL: '1s',
        TIDINGS_TELEMETRY_HEARTBEAT_INTERVAL: '1m',
        TIDINGS_TELEMETRY_BATCH: '1000',
        TIDINGS_TELEMETRY_RETENTION: '12h',
      },
      'h',
    ).telemetry,
    { intervalMs: 1000, heartbeatIntervalMs: 60_000, batchSize: 1000, retentionMs: 12 * 3_600_000 },
  );
  for (const [variable, value, env] of [
    ['TIDINGS_TELEMETRY', 'on', {}],
    ['TIDINGS_TELEMETRY', 'yes', backend],
    ['TIDINGS_TELEMETRY_INTERVAL', '0', backend],
    ['TIDINGS_TELEMETRY_INTERVAL', '500ms', backend],
    ['TIDINGS_TELEMETRY_HEARTBEAT_INTERVAL', '15', backend],
    ['TIDINGS_TELEMETRY_BATCH', '1001', backend],
    ['TIDINGS_TELEMETRY_BATCH', '0', backend],
    ['TIDINGS_TELEMETRY_RETENTION', 'forever', backend],
  ] as const) {
    assert.throws(
      () => loadMxConfig(base, { ...env, [variable]: value }, 'h'),
      (e: unknown) => e instanceof ConfigError && e.variable === variable,
      `${variable}=${value}`,
    );
  }
});

test('outbound forwarding: a smarthost as host[:port], the DNS servers, the remote SMTP port; nonsense is refused naming the variable', () => {
  const base = loadConfig({}, '/srv/t');
  const mx = loadMxConfig(
    base,
    {
      TIDINGS_FORWARD_RELAY: 'Smarthost.Example.net:587',
      TIDINGS_DNS_SERVERS: '192.0.2.53, 127.0.0.1:5353,[2001:db8::53]:53,2001:db8::1',
      TIDINGS_FORWARD_PORT: '2525',
    },
    'h',
  );
  assert.deepEqual(mx.forwardRelay, { host: 'smarthost.example.net', port: 587 });
  assert.deepEqual(mx.dnsServers, ['192.0.2.53', '127.0.0.1:5353', '[2001:db8::53]:53', '2001:db8::1']);
  assert.equal(mx.forwardPort, 2525);
  assert.deepEqual(
    loadMxConfig(base, { TIDINGS_FORWARD_RELAY: '192.0.2.25' }, 'h').forwardRelay,
    { host: '192.0.2.25', port: 25 },
    'port 25 unless given',
  );
  assert.deepEqual(loadMxConfig(base, { TIDINGS_FORWARD_RELAY: '[2001:db8::25]:2525' }, 'h').forwardRelay, {
    host: '2001:db8::25',
    port: 2525,
  });
  for (const [env, variable] of [
    [{ TIDINGS_FORWARD_RELAY: 'relay host:25' }, 'TIDINGS_FORWARD_RELAY'],
    [{ TIDINGS_FORWARD_RELAY: 'relay.example.net:0' }, 'TIDINGS_FORWARD_RELAY'],
    [{ TIDINGS_FORWARD_RELAY: 'relay.example.net:65536' }, 'TIDINGS_FORWARD_RELAY'],
    [{ TIDINGS_FORWARD_RELAY: 'relay.example.net:smtp' }, 'TIDINGS_FORWARD_RELAY'],
    [{ TIDINGS_FORWARD_RELAY: ':25' }, 'TIDINGS_FORWARD_RELAY'],
    [{ TIDINGS_FORWARD_RELAY: '[2001:db8::25' }, 'TIDINGS_FORWARD_RELAY'],
    [{ TIDINGS_DNS_SERVERS: 'dns.example.net' }, 'TIDINGS_DNS_SERVERS'],
    [{ TIDINGS_DNS_SERVERS: '127.0.0.1:0' }, 'TIDINGS_DNS_SERVERS'],
    [{ TIDINGS_DNS_SERVERS: '192.0.2.53;192.0.2.54' }, 'TIDINGS_DNS_SERVERS'],
    [{ TIDINGS_FORWARD_PORT: '0' }, 'TIDINGS_FORWARD_PORT'],
    [{ TIDINGS_FORWARD_PORT: '25x' }, 'TIDINGS_FORWARD_PORT'],
  ] as const) {
    assert.throws(
      () => loadMxConfig(base, env, 'h'),
      (e: unknown) => e instanceof ConfigError && e.variable === variable && e.message.startsWith(variable),
      `${variable}=${Object.values(env)[0]}`,
    );
  }
});

test('TIDINGS_TELEMETRY_MINUTES_RETENTION / _HOURS_RETENTION: 14 d and 400 d unless set; nonsense, 0 and hours shorter than minutes are refused naming the variable', () => {
  const DAY = 86_400_000;
  assert.deepEqual(loadConfig({}).telemetryRetention, { minutesMs: 14 * DAY, hoursMs: 400 * DAY });
  assert.deepEqual(
    loadConfig({ TIDINGS_TELEMETRY_MINUTES_RETENTION: '36h', TIDINGS_TELEMETRY_HOURS_RETENTION: '30d' }).telemetryRetention,
    { minutesMs: 36 * 3_600_000, hoursMs: 30 * DAY },
  );
  assert.deepEqual(loadConfig({ TIDINGS_TELEMETRY_MINUTES_RETENTION: '7d', TIDINGS_TELEMETRY_HOURS_RETENTION: '7d' }).telemetryRetention, {
    minutesMs: 7 * DAY,
    hoursMs: 7 * DAY,
  });
  for (const [variable, env] of [
    ['TIDINGS_TELEMETRY_MINUTES_RETENTION', { TIDINGS_TELEMETRY_MINUTES_RETENTION: '14' }],
    ['TIDINGS_TELEMETRY_MINUTES_RETENTION', { TIDINGS_TELEMETRY_MINUTES_RETENTION: '0' }],
    ['TIDINGS_TELEMETRY_MINUTES_RETENTION', { TIDINGS_TELEMETRY_MINUTES_RETENTION: 'two weeks' }],
    ['TIDINGS_TELEMETRY_HOURS_RETENTION', { TIDINGS_TELEMETRY_HOURS_RETENTION: '-1d' }],
    ['TIDINGS_TELEMETRY_HOURS_RETENTION', { TIDINGS_TELEMETRY_HOURS_RETENTION: '1y' }],
    // Hours roll from minutes: keeping them for less time than the minutes is refused.
    ['TIDINGS_TELEMETRY_HOURS_RETENTION', { TIDINGS_TELEMETRY_HOURS_RETENTION: '10d' }],
    ['TIDINGS_TELEMETRY_HOURS_RETENTION', { TIDINGS_TELEMETRY_MINUTES_RETENTION: '30d', TIDINGS_TELEMETRY_HOURS_RETENTION: '29d' }],
  ] as const) {
    assert.throws(
      () => loadConfig(env),
      (e: unknown) => e instanceof ConfigError && e.variable === variable && e.message.startsWith(variable),
      JSON.stringify(env),
    );
  }
});

test('TIDINGS_TELEMETRY_SECTION: email unless set; another slug is taken as is; anything that is not a slug is refused naming the variable', () => {
  assert.equal(loadConfig({}).telemetrySection, 'email');
  assert.equal(loadConfig({ TIDINGS_TELEMETRY_SECTION: 'mail-eu2' }).telemetrySection, 'mail-eu2');
  for (const bad of ['Email', 'e mail', '-email', 'email/x', 'x'.repeat(61)]) {
    assert.throws(
      () => loadConfig({ TIDINGS_TELEMETRY_SECTION: bad }),
      (e: unknown) => e instanceof ConfigError && e.variable === 'TIDINGS_TELEMETRY_SECTION' && /section slug/.test(e.message),
      bad,
    );
  }
});

test('flow control: defaults, each threshold settable, soft must stay below hard, 0 turns only the delay off', () => {
  const base = loadConfig({}, '/srv/t');
  assert.deepEqual(loadMxConfig(base, {}, 'h').flow, {
    softDepth: 2000,
    hardDepth: 20_000,
    softAgeMs: 1000,
    hardAgeMs: 5000,
    maxDelayMs: 1000,
  });
  assert.deepEqual(
    loadMxConfig(
      base,
      {
        TIDINGS_FLOW_QUEUE_SOFT: '100',
        TIDINGS_FLOW_QUEUE_HARD: '500',
        TIDINGS_FLOW_AGE_SOFT: '2s',
        TIDINGS_FLOW_AGE_HARD: '1m',
        TIDINGS_FLOW_MAX_DELAY: '0',
      },
      'h',
    ).flow,
    { softDepth: 100, hardDepth: 500, softAgeMs: 2000, hardAgeMs: 60_000, maxDelayMs: 0 },
  );
  for (const [env, variable] of [
    [{ TIDINGS_FLOW_QUEUE_HARD: '1000' }, 'TIDINGS_FLOW_QUEUE_SOFT'],
    [{ TIDINGS_FLOW_QUEUE_SOFT: '0' }, 'TIDINGS_FLOW_QUEUE_SOFT'],
    [{ TIDINGS_FLOW_AGE_SOFT: '5s' }, 'TIDINGS_FLOW_AGE_SOFT'],
    [{ TIDINGS_FLOW_AGE_HARD: '0' }, 'TIDINGS_FLOW_AGE_HARD'],
    [{ TIDINGS_FLOW_MAX_DELAY: '500ms' }, 'TIDINGS_FLOW_MAX_DELAY'],
  ] as const) {
    assert.throws(
      () => loadMxConfig(base, env, 'h'),
      (e: unknown) => e instanceof ConfigError && e.variable === variable,
      variable,
    );
  }
});

test('content checks: on by default at the Debian services, off only when TIDINGS_SCAN=off says so, nonsense refused', () => {
  const base = loadConfig({}, '/srv/t');
  assert.equal(loadMxConfig(base, {}, 'h').scan.mode, 'on');
  assert.deepEqual(
    loadMxConfig(
      base,
      {
        TIDINGS_SCAN: 'off',
        TIDINGS_RSPAMD_URL: 'http://[::1]:11334/',
        TIDINGS_CLAMD_ADDRESS: 'clamd.internal:3311',
        TIDINGS_SCAN_TIMEOUT: '1m',
        TIDINGS_SCAN_CONNECTIONS: '4',
        TIDINGS_CLAMD_STREAM_MAX: '1048576',
      },
      'h',
    ).scan,
    {
      mode: 'off',
      rspamdUrl: 'http://[::1]:11334',
      clamd: { host: 'clamd.internal', port: 3311 },
      timeoutMs: 60_000,
      connections: 4,
      clamdStreamMax: 1048576,
    },
  );
  for (const [env, variable] of [
    [{ TIDINGS_SCAN: 'no' }, 'TIDINGS_SCAN'],
    [{ TIDINGS_RSPAMD_URL: 'unix:/run/rspamd.sock' }, 'TIDINGS_RSPAMD_URL'],
    [{ TIDINGS_RSPAMD_URL: 'https://rspamd.internal' }, 'TIDINGS_RSPAMD_URL'],
    [{ TIDINGS_CLAMD_ADDRESS: 'not a host:99999' }, 'TIDINGS_CLAMD_ADDRESS'],
    [{ TIDINGS_SCAN_TIMEOUT: '0' }, 'TIDINGS_SCAN_TIMEOUT'],
    [{ TIDINGS_SCAN_CONNECTIONS: '0' }, 'TIDINGS_SCAN_CONNECTIONS'],
    // a message the node accepts but clamd will not take would get 451 at every try until it expired
    [{ TIDINGS_SMTP_MAX_MESSAGE_BYTES: '2097152', TIDINGS_CLAMD_STREAM_MAX: '1048576' }, 'TIDINGS_SMTP_MAX_MESSAGE_BYTES'],
  ] as const) {
    assert.throws(
      () => loadMxConfig(base, env, 'h'),
      (e: unknown) => e instanceof ConfigError && e.variable === variable,
      variable,
    );
  }
  // equal limits fit; with scanning off clamd's limit does not matter
  const fits = { TIDINGS_SMTP_MAX_MESSAGE_BYTES: '1048576', TIDINGS_CLAMD_STREAM_MAX: '1048576' };
  assert.equal(loadMxConfig(base, fits, 'h').maxMessageBytes, 1048576);
  const unscanned = { TIDINGS_SCAN: 'off', TIDINGS_SMTP_MAX_MESSAGE_BYTES: '2097152', TIDINGS_CLAMD_STREAM_MAX: '1048576' };
  assert.equal(loadMxConfig(base, unscanned, 'h').maxMessageBytes, 2097152);
});

test('TIDINGS_LEGACY_HOST / _PORT: none unless set; a host with an optional port; a port alone or nonsense is refused naming the variable', () => {
  assert.equal(loadConfig({}).legacyDefault, null);
  assert.deepEqual(loadConfig({ TIDINGS_LEGACY_HOST: 'old-mx.example.org' }).legacyDefault, { host: 'old-mx.example.org', port: null });
  assert.deepEqual(loadConfig({ TIDINGS_LEGACY_HOST: '192.0.2.25', TIDINGS_LEGACY_PORT: '2525' }).legacyDefault, {
    host: '192.0.2.25',
    port: 2525,
  });
  for (const [env, variable] of [
    [{ TIDINGS_LEGACY_PORT: '25' }, 'TIDINGS_LEGACY_PORT'],
    [{ TIDINGS_LEGACY_HOST: 'old mx' }, 'TIDINGS_LEGACY_HOST'],
    [{ TIDINGS_LEGACY_HOST: 'old-mx.test', TIDINGS_LEGACY_PORT: '0' }, 'TIDINGS_LEGACY_PORT'],
    [{ TIDINGS_LEGACY_HOST: 'old-mx.test', TIDINGS_LEGACY_PORT: 'x' }, 'TIDINGS_LEGACY_PORT'],
  ] as const)
    assert.throws(
      () => loadConfig(env),
      (e: Error) => e instanceof ConfigError && e.variable === variable,
      JSON.stringify(env),
    );
});
