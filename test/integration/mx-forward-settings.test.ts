// Forwarding from the real product process (mailsystem/main.ts) is pointed by its settings alone:
// TIDINGS_DNS_SERVERS (a local DNS zone served over UDP) and TIDINGS_FORWARD_PORT find the provider's MX;
// TIDINGS_FORWARD_RELAY sends everything to a smarthost regardless of DNS. SRS and the loop mark stay.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ConfigChange } from '#data/contracts/mx-config.ts';
import { sendMessage } from '#mailsystem/delivery/smtp-client.ts';
import { startDnsServer, type DnsServer } from '../support/dns-zone.ts';
import { startMainNode, type MainNode } from '../support/mx-main.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

const zone = {
  mx: { 'provider.test': [{ exchange: 'mx.provider.test', priority: 10 }] },
  a: { 'mx.provider.test': ['127.0.0.1'], 'smarthost.test': ['127.0.0.1'] },
};

function aliasTo(targets: string[]): ConfigChange[] {
  return [
    {
      version: 1,
      op: 'upsert',
      entity: 'domain',
      key: 'example.com',
      record: { name: 'example.com', mode: 'active', legacyHost: null, legacyPort: null, catchAll: null },
    },
    {
      version: 2,
      op: 'upsert',
      entity: 'alias',
      key: 'info@example.com',
      record: { address: 'info@example.com', domain: 'example.com', targets, keepLocalCopy: false },
    },
  ];
}

async function parts(): Promise<{ dns: DnsServer; provider: SmtpSink; relay: SmtpSink }> {
  const dns = await startDnsServer(zone);
  const provider = await startSmtpSink();
  const relay = await startSmtpSink();
  cleanup.push(
    () => dns.close(),
    () => provider.close(),
    () => relay.close(),
  );
  return { dns, provider, relay };
}

async function node(changes: ConfigChange[], env: Record<string, string>): Promise<MainNode> {
  const n = await startMainNode(changes, env);
  cleanup.push(() => n.stop());
  return n;
}

async function sendToAlias(port: number, subject: string): Promise<void> {
  const message = Buffer.from(
    `From: Sender <sender@origin.test>\r\nTo: info@example.com\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@origin.test>\r\n\r\nhi\r\n`,
  );
  const r = await sendMessage({
    host: '127.0.0.1',
    port,
    heloName: 'client.origin.test',
    from: 'sender@origin.test',
    to: ['info@example.com'],
    message,
    timeoutMs: 10_000,
  });
  assert.equal(r.get('info@example.com')?.kind, 'delivered', r.get('info@example.com')?.response);
}

const SRS_FROM = /^SRS0=[^=]+=[A-Z2-7]{2}=origin\.test=sender@mx\.tidings\.test$/i;

test('TIDINGS_DNS_SERVERS and TIDINGS_FORWARD_PORT: a forward alias reaches the MX the configured DNS names', async () => {
  const { dns, provider } = await parts();
  const mx = await node(aliasTo(['customer@provider.test']), {
    TIDINGS_DNS_SERVERS: `127.0.0.1:${dns.port}`,
    TIDINGS_FORWARD_PORT: String(provider.port),
  });
  await sendToAlias(mx.port, 'via the MX of provider.test');

  const [forwarded] = await provider
    .waitFor(1, 20_000)
    .catch((err: Error) => assert.fail(`${err.message}; DNS questions: ${dns.queries.join(', ')}; node: ${mx.stderr()}`));
  assert.deepEqual(forwarded.to, ['customer@provider.test']);
  assert.match(forwarded.from, SRS_FROM);
  assert.match(forwarded.data.toString(), /^Delivered-To: info@example\.com\r\n/);
  assert.match(forwarded.data.toString(), /Subject: via the MX of provider\.test/);
  assert.ok(dns.queries.includes('MX provider.test'), `the node asked the configured server: ${dns.queries.join(', ')}`);
  assert.ok(dns.queries.includes('A mx.provider.test'));
});

test('TIDINGS_FORWARD_RELAY: every forward goes to the smarthost, without an MX lookup, even for a domain DNS does not know', async () => {
  const { dns, provider, relay } = await parts();
  const mx = await node(aliasTo(['customer@provider.test', 'someone@nowhere.test']), {
    TIDINGS_DNS_SERVERS: `127.0.0.1:${dns.port}`,
    TIDINGS_FORWARD_PORT: String(provider.port),
    TIDINGS_FORWARD_RELAY: `smarthost.test:${relay.port}`,
  });
  await sendToAlias(mx.port, 'via the smarthost');

  const relayed = await relay
    .waitFor(2, 20_000)
    .catch((err: Error) => assert.fail(`${err.message}; DNS questions: ${dns.queries.join(', ')}; node: ${mx.stderr()}`));
  assert.deepEqual(relayed.flatMap((m) => m.to).sort(), ['customer@provider.test', 'someone@nowhere.test']);
  for (const m of relayed) {
    assert.match(m.from, SRS_FROM);
    assert.match(m.data.toString(), /^Delivered-To: info@example\.com\r\n/);
  }
  // Both deliveries are done: had either gone to the provider's MX, it would be there by now.
  assert.equal(provider.messages.length, 0, 'nothing went to the MX that DNS names');
  assert.deepEqual(
    dns.queries.filter((q) => q.startsWith('MX ')),
    [],
    'no MX lookup with a smarthost',
  );
  assert.ok(dns.queries.includes('A smarthost.test'), "the smarthost's name is resolved through the configured server");
});
