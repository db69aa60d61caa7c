// Forwarding to external providers: MX lookup (or a configured smarthost) through the injected resolver, SRS envelope sender, loop guard, opportunistic TLS.
import { splitAddress } from '#data/address.ts';
import type { Clock } from '../deps.ts';
import type { Resolver } from '../dns/resolver.ts';
import type { Srs } from '../srs/srs.ts';
import type { DeliveryJob, DeliveryOutcome, Transport } from './transport.ts';
import { sendMessage } from './smtp-client.ts';
import { addressesOf, lookupMx, type MxLookup } from './mx-hosts.ts';
import { checkForwardLoop } from './loop-guard.ts';

export interface ForwardOptions {
  resolver: Resolver;
  srs: Srs;
  clock: Clock;
  heloName: string;
  /** Port of remote MX hosts: 25 in production; tests point it (per MX host name) at their loopback servers. */
  port?: number | ((mxHost: string) => number);
  /** A smarthost that takes all forwarded mail: no MX lookup; its name is resolved like an MX host's. */
  relay?: { host: string; port: number } | null;
  /** More Received headers than this is taken as a loop (Postfix's hopcount_limit is 50). */
  maxHops?: number;
  timeoutMs?: number;
}

/** The smarthost as the one "MX host"; a relay without an address is our configuration's fault: keep the mail queued. */
async function relayTarget(resolver: Resolver, host: string): Promise<MxLookup> {
  const a = await addressesOf(resolver, host);
  if (a.addresses.length) return { kind: 'hosts', hosts: [{ name: host, addresses: a.addresses }] };
  return { kind: 'temporary', response: `4.4.3 forward relay ${host} has no address${a.temporary ? ' (DNS lookup failed)' : ''}` };
}

export function createForwardTransport(opts: ForwardOptions): Transport {
  const relay = opts.relay ?? null;
  const mxPort = typeof opts.port === 'function' ? opts.port : () => (opts.port as number | undefined) ?? 25;
  const portOf = relay ? () => relay.port : mxPort;
  const maxHops = opts.maxHops ?? 30;
  return {
    async deliver(job: DeliveryJob): Promise<DeliveryOutcome> {
      if (job.route.kind !== 'forward') return { kind: 'failed', response: '5.3.5 not a forward route' };
      const to = job.route.to;
      const loop = checkForwardLoop(job.message, job.recipient, maxHops);
      if (loop.loop) return { kind: 'failed', response: loop.response };
      const parts = splitAddress(to);
      if (!parts) return { kind: 'failed', response: `5.1.3 bad forward address <${to}>` };
      const { domain } = parts;
      const mx = relay ? await relayTarget(opts.resolver, relay.host) : await lookupMx(opts.resolver, domain);
      if (mx.kind === 'permanent') return { kind: 'failed', response: mx.response };
      if (mx.kind === 'temporary') return { kind: 'deferred', response: mx.response };

      // SRS keeps SPF passing at the provider and brings bounces back to us; a bounce (null sender) stays null.
      const from = job.envelopeFrom === '' ? '' : opts.srs.forward(job.envelopeFrom, new Date(opts.clock.now()));
      // Delivered-To marks that this address forwarded the message; seeing it again means a loop.
      const message = Buffer.concat([Buffer.from(`Delivered-To: ${job.recipient}\r\n`, 'latin1'), job.message]);
      let last: DeliveryOutcome = {
        kind: 'deferred',
        response: relay ? `4.4.1 forward relay ${relay.host} did not answer` : `4.4.1 no mail host of ${domain} answered`,
      };
      for (const host of mx.hosts) {
        for (const address of host.addresses) {
          const results = await sendMessage({
            host: address,
            port: portOf(host.name),
            servername: host.name,
            heloName: opts.heloName,
            from,
            to: [to],
            message,
            timeoutMs: opts.timeoutMs,
          });
          const outcome = results.get(to) ?? [...results.values()][0];
          // A permanent answer from a responsible MX is final; a temporary one lets us try the next host.
          if (outcome.kind !== 'deferred') return outcome;
          // Report a host's own words ("451 try later") over a later host's silence.
          if (/^\d{3}\b/.test(outcome.response) || !/^\d{3}\b/.test(last.response)) last = outcome;
        }
      }
      return last;
    },
  };
}
