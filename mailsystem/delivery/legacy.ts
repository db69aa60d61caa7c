// Relay to the old MX during a domain's migration (legacy and shadow modes): envelope and bytes exactly as received.
import { isIP } from 'node:net';
import { isNoData, type Resolver } from '../dns/resolver.ts';
import { type DeliveryJob, type DeliveryOutcome, sessionTransport, type Transport } from './transport.ts';
import { sendMessage } from './smtp-client.ts';

export interface LegacyOptions {
  resolver: Resolver;
  heloName: string;
  timeoutMs?: number;
}

/**
 * The legacy host is named in our configuration: resolved as a host name, never through the recipient's MX. Null when
 * the name has no address or the lookup failed. The recipient probe (mailsystem/legacy/probe.ts) asks the same way.
 */
export async function legacyHostAddress(resolver: Resolver, host: string): Promise<string | null> {
  if (isIP(host)) return host;
  for (const lookup of [resolver.resolve4, resolver.resolve6]) {
    try {
      const a = await lookup(host);
      if (a.length) return a[0];
    } catch (err) {
      if (!isNoData(err)) return null;
    }
  }
  return null;
}

export function createLegacyTransport(opts: LegacyOptions): Transport {
  /** One SMTP session for every job: a RCPT TO per recipient; DATA's one reply covers every recipient it accepted. */
  async function deliverMany(jobs: DeliveryJob[]): Promise<DeliveryOutcome[]> {
    const first = jobs[0].route;
    if (first.kind !== 'legacy' || jobs.some((j) => j.route.kind !== 'legacy'))
      return jobs.map(() => ({ kind: 'failed', response: '5.3.5 not a legacy route' }));
    const { host, port } = first;
    const address = await legacyHostAddress(opts.resolver, host);
    // A misconfigured old MX is our problem, not the sender's: keep the mail queued rather than bounce it.
    if (!address) return jobs.map(() => ({ kind: 'deferred', response: `4.4.3 legacy host ${host} has no address` }));
    const recipients = jobs.map((j) => j.recipient);
    const results = await sendMessage({
      host: address,
      port,
      servername: host,
      heloName: opts.heloName,
      from: jobs[0].envelopeFrom,
      to: recipients,
      message: jobs[0].message,
      timeoutMs: opts.timeoutMs,
    });
    return recipients.map((r) => results.get(r) as DeliveryOutcome);
  }
  return sessionTransport(deliverMany);
}
