// A loopback SMTP server (smtp-server) standing in for an external provider or the old MX: records every message it accepts.
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { waitFor } from './wait.ts';

/** How long close() waits for clients to end their sessions (QUIT) before it calls the close unclean. */
const DRAIN_MS = 10_000;

export interface SinkMessage {
  from: string; // '' for the null sender
  to: string[];
  data: Buffer;
  secure: boolean; // true when the session ran over TLS (STARTTLS)
  heloName: string;
  /** Date.now() when the message was complete, just before the sink answered it. */
  at: number;
}

export interface SmtpSink {
  port: number;
  messages: SinkMessage[];
  /** Resolves once at least n messages arrived; rejects after timeoutMs. */
  waitFor(n: number, timeoutMs?: number): Promise<SinkMessage[]>;
  /** Waits for the clients' sessions to end, then stops listening; throws when a client still holds a session open. */
  close(): Promise<void>;
}

export interface SinkOptions {
  /** Reply to RCPT TO: return [code, text] to refuse that recipient. */
  refuseRcpt?: (address: string) => [number, string] | null;
  /** Speak LMTP instead of SMTP. */
  lmtp?: boolean;
  /** LMTP: the reply after DATA for each accepted recipient ([code, text] refuses it). */
  lmtpDataReply?: (address: string) => [number, string] | null;
  /** Offer STARTTLS (smtp-server's built-in self-signed certificate). Default true. */
  starttls?: boolean;
  /**
   * Called when a message is complete; the sink answers it (and records it) only once the promise resolves: a
   * delivery target that holds its mail, e.g. a paused mailbox server.
   */
  hold?: () => Promise<void>;
  /** Listen on this port (e.g. a sink back on the port it had before it went down); default 0, any free port. */
  port?: number;
}

export async function startSmtpSink(opts: SinkOptions = {}): Promise<SmtpSink> {
  const messages: SinkMessage[] = [];
  const waiters: (() => void)[] = [];
  const options: SMTPServerOptions = {
    logger: false,
    lmtp: opts.lmtp ?? false,
    disabledCommands: opts.starttls === false ? ['AUTH', 'STARTTLS'] : ['AUTH'],
    authOptional: true,
    onRcptTo(address, _session, cb) {
      const refusal = opts.refuseRcpt?.(address.address);
      if (refusal) return cb(Object.assign(new Error(refusal[1]), { responseCode: refusal[0] }));
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      const answer = () => {
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        messages.push({
          from,
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks),
          secure: session.secure,
          heloName: session.hostNameAppearsAs,
          at: Date.now(),
        });
        for (const w of waiters.splice(0)) w();
        if (!opts.lmtpDataReply) return cb();
        const replies = session.envelope.rcptTo.map((r) => {
          const refusal = opts.lmtpDataReply!(r.address);
          return refusal ? Object.assign(new Error(refusal[1]), { responseCode: refusal[0] }) : `2.0.0 <${r.address}> saved`;
        });
        (cb as (err: Error | null, replies: (string | Error)[]) => void)(null, replies);
      };
      stream.on('end', () => (opts.hold ? void opts.hold().then(answer) : answer()));
    },
  };
  const server = new SMTPServer(options);
  // A client dying mid-session (a crash test kills the node) resets the connection: not the sink's failure.
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    messages,
    async waitFor(n, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < n) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`smtp sink: expected ${n} messages, got ${messages.length}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, left).unref();
        });
      }
      return messages;
    },
    async close() {
      const open = (): number => server.connections.size;
      try {
        await waitFor(
          () => open() === 0,
          () => `the smtp sink's clients to end their sessions (${open()} still open)`,
          DRAIN_MS,
        );
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  };
}
