// A webhook receiver for tests (node:http on port 0) that checks every request the way the Standard Webhooks
// specification tells receivers to, written here from the specification, not with the code under test.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  id: string;
  timestamp: number;
  headers: IncomingHttpHeaders;
  body: string;
  json: { type: string; timestamp: string; data: Record<string, unknown> & { eventId: number } };
  /** Whether the signature matched the secret (a receiver would refuse the request otherwise). */
  verified: boolean;
  /** The status this receiver answered with. */
  answered: number;
}

/**
 * Standard Webhooks verification: the signed content is `${webhook-id}.${webhook-timestamp}.${body}`, the key is the
 * base64 part of "whsec_...", the header holds space-separated "v1,<base64>" entries, any of which may match.
 */
export function verifyStandardWebhook(secret: string, headers: IncomingHttpHeaders, body: string, nowSeconds: number): boolean {
  const id = headers['webhook-id'];
  const ts = headers['webhook-timestamp'];
  const sigs = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof ts !== 'string' || typeof sigs !== 'string') return false;
  if (!/^\d+$/.test(ts) || Math.abs(nowSeconds - Number(ts)) > 5 * 60) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest();
  return sigs.split(' ').some((entry) => {
    const [version, sig] = entry.split(',', 2);
    if (version !== 'v1' || !sig) return false;
    const given = Buffer.from(sig, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

export interface Receiver {
  url: string;
  port: number;
  /** Every request, in arrival order. */
  requests: Received[];
  /** The webhook-ids answered 2xx, each once however often it came (what a deduplicating receiver keeps). */
  accepted(): Set<string>;
  close(): Promise<void>;
}

/**
 * answer(n, id): the status for the n-th request (0-based) overall; 200 by default. secret(id): the secret of the
 * endpoint the webhook-id names. A request whose signature does not verify is answered 401, whatever answer() says.
 */
export async function startReceiver(opts: {
  secret: (webhookId: string) => string;
  answer?: (n: number, id: string) => number | 'hang';
  clock?: () => number;
}): Promise<Receiver> {
  const requests: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const id = String(req.headers['webhook-id'] ?? '');
      const verdict = opts.answer?.(requests.length, id) ?? 200;
      const now = Math.floor((opts.clock?.() ?? Date.now()) / 1000);
      const verified = verifyStandardWebhook(opts.secret(id), req.headers, body, now);
      let json: Received['json'];
      try {
        json = JSON.parse(body);
      } catch {
        json = { type: '', timestamp: '', data: { eventId: -1 } };
      }
      const answered = verdict === 'hang' ? 0 : verified ? verdict : 401;
      requests.push({ id, timestamp: Number(req.headers['webhook-timestamp']), headers: req.headers, body, json, verified, answered });
      if (verdict === 'hang') return;
      res.writeHead(answered, { 'content-type': 'text/plain', ...(answered >= 300 && answered < 400 ? { location: '/elsewhere' } : {}) });
      res.end(answered < 300 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    requests,
    accepted: () => new Set(requests.filter((r) => r.answered >= 200 && r.answered < 300).map((r) => r.id)),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
