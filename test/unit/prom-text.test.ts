// The strict exposition parser (test/support/prom-text.ts) accepts prom-client's output and refuses malformed text,
// so the /metrics tests that use it can fail.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMxMetrics } from '#mailsystem/telemetry/metrics.ts';
import { ExpositionError, parseExposition, sampleValue } from '../support/prom-text.ts';

const GOOD = `# HELP a_total Things, with a \\\\ and a \\n.
# TYPE a_total counter
a_total{reason="x \\"q\\" \\\\ \\n"} 3
a_total{reason="y"} 1.5e1
# TYPE h_seconds histogram
h_seconds_bucket{route="m",le="0.1"} 1
h_seconds_bucket{route="m",le="+Inf"} 2
h_seconds_sum{route="m"} 0.5
h_seconds_count{route="m"} 2
g 7 1700000000000
`;

test('a well-formed exposition parses, with label escapes and HELP escapes undone', () => {
  const f = parseExposition(GOOD);
  assert.equal(f.get('a_total')?.help, 'Things, with a \\ and a \n.');
  assert.equal(sampleValue(f, 'a_total', { reason: 'x "q" \\ \n' }), 3);
  assert.equal(sampleValue(f, 'a_total', { reason: 'y' }), 15);
  assert.equal(sampleValue(f, 'h_seconds_count', { route: 'm' }), 2);
  assert.equal(f.get('g')?.type, 'untyped');
});

test('malformed expositions are refused, each for its own reason', () => {
  const bad: [string, string, RegExp][] = [
    ['no final newline', GOOD.slice(0, -1), /newline/],
    ['bad escape in a label', GOOD.replace('\\"q\\"', '\\q'), /bad escape/],
    ['unterminated label value', 'x{a="b} 1\n', /unterminated/],
    ['bad metric name', '1abc 1\n', /bad metric name/],
    ['bad value', 'x 1,5\n', /expected|bad value/],
    ['unknown type', '# TYPE x countr\nx 1\n', /unknown type/],
    ['TYPE after samples', 'x 1\n# TYPE x gauge\n', /after its samples/],
    ['a repeated series', 'x{a="1"} 1\nx{a="1"} 2\n', /repeated/],
    ['split family', 'x 1\ny 1\nx{a="2"} 1\n', /not together/],
    ['counter without _total', '# TYPE c counter\nc 1\n', /_total/],
    ['negative counter', '# TYPE c_total counter\nc_total -1\n', /counter/],
    ['buckets not ascending', GOOD.replace('le="0.1"} 1', 'le="0.1"} 1\nh_seconds_bucket{route="m",le="0.05"} 1'), /ascending/],
    ['no +Inf bucket', GOOD.replace('le="+Inf"', 'le="5"'), /\+Inf/],
    ['count disagrees with +Inf', GOOD.replace('h_seconds_count{route="m"} 2', 'h_seconds_count{route="m"} 3'), /differs/],
    ['buckets not cumulative', GOOD.replace('le="0.1"} 1', 'le="0.1"} 5'), /cumulative/],
    ['missing _sum', GOOD.replace('h_seconds_sum{route="m"} 0.5\n', ''), /_sum or _count/],
  ];
  for (const [what, text, message] of bad) {
    assert.throws(
      () => parseExposition(text),
      (err: unknown) => err instanceof ExpositionError && message.test(err.message),
      what,
    );
  }
});

test("the MX node's registry renders what its observer saw, and gauges are read at scrape time", async () => {
  let depth = 3;
  const m = createMxMetrics(
    {
      readGauges: (now) => ({
        at: now,
        queueDepth: depth,
        oldestQueuedMs: 2500,
        inRetry: 1,
        configVersion: 7,
        lastSyncAt: null,
        lastSeq: 40,
      }),
      ackedCursor: () => 35,
      now: () => Date.now(),
    },
    { processMetrics: false },
  );
  m.observe({ type: 'accepted' });
  m.observe({ type: 'accepted' });
  m.observe({ type: 'rejected', reason: 'unknown-user' });
  m.observe({ type: 'delivered', route: 'maildir', latencyMs: 120 });
  m.observe({ type: 'deferred', route: 'lmtp' });
  m.observe({ type: 'bounced', route: 'lmtp', reason: 'permanent' });
  m.observe({ type: 'rejected', reason: 'queue-full' });
  m.observeFlowDelay(250);
  m.observeFlowDelay(500);
  const f = parseExposition(await m.registry.metrics());
  assert.equal(sampleValue(f, 'tidings_mx_rejections_total', { reason: 'queue-full' }), 1);
  assert.equal(sampleValue(f, 'tidings_mx_flow_delayed_replies_total'), 2);
  assert.equal(sampleValue(f, 'tidings_mx_flow_delay_seconds_total'), 0.75);
  assert.equal(sampleValue(f, 'tidings_mx_messages_accepted_total'), 2);
  assert.equal(sampleValue(f, 'tidings_mx_rejections_total', { reason: 'unknown-user' }), 1);
  assert.equal(sampleValue(f, 'tidings_mx_deliveries_total', { route: 'maildir', outcome: 'delivered' }), 1);
  assert.equal(sampleValue(f, 'tidings_mx_deliveries_total', { route: 'lmtp', outcome: 'deferred' }), 1);
  assert.equal(sampleValue(f, 'tidings_mx_deliveries_total', { route: 'lmtp', outcome: 'bounced' }), 1);
  assert.equal(sampleValue(f, 'tidings_mx_delivery_latency_seconds_count', { route: 'maildir' }), 1);
  assert.equal(sampleValue(f, 'tidings_mx_delivery_latency_seconds_sum', { route: 'maildir' }), 0.12);
  // 120 ms falls in the contract's 178 ms bucket, not in the 100 ms one.
  assert.equal(sampleValue(f, 'tidings_mx_delivery_latency_seconds_bucket', { route: 'maildir', le: '0.1' }), 0);
  assert.equal(sampleValue(f, 'tidings_mx_delivery_latency_seconds_bucket', { route: 'maildir', le: '0.178' }), 1);
  assert.equal(sampleValue(f, 'tidings_mx_queue_depth'), 3);
  assert.equal(sampleValue(f, 'tidings_mx_oldest_queued_age_seconds'), 2.5);
  assert.equal(sampleValue(f, 'tidings_mx_deliveries_in_retry'), 1);
  assert.equal(sampleValue(f, 'tidings_mx_config_version'), 7);
  assert.equal(sampleValue(f, 'tidings_mx_telemetry_shipping_lag_events'), 5);
  depth = 9;
  assert.equal(sampleValue(parseExposition(await m.registry.metrics()), 'tidings_mx_queue_depth'), 9);
});
