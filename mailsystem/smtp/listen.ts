// How the SMTP listener opens for a rolling restart (README, "Restarting an MX node without refusing mail"): either on
// host:port with SO_REUSEPORT, so a successor process binds the same port while this one still accepts, or on a
// listening socket a supervising process hands over (server/embedded-mx.ts), which outlives every MX process.
import type { AddressInfo, Server } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { MxSmtpServer } from './smtp-server-adapter.ts';

/** An address to bind, or a listening socket handle received over the IPC channel (child_process `sendHandle`). */
export type SmtpListenTarget = { host: string; port: number } | { handle: object };

/** Listens and resolves with the bound port; rejects with the listen error (e.g. EADDRINUSE). */
export function listenSmtp(server: Server, target: SmtpListenTarget): Promise<number> {
  return new Promise((resolve, reject) => {
    const listening = (): void => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    };
    server.once('error', reject);
    if ('handle' in target) server.listen(target.handle, listening);
    else server.listen({ host: target.host, port: target.port, reusePort: true }, listening);
  });
}

/**
 * smtp-server greets a connection 100 ms after accepting it (to catch early talkers); the client then needs a few round
 * trips (EHLO, maybe STARTTLS) before MAIL. A session without a transaction when the drain begins is told 421.
 */
const HANDOVER_GRACE_MS = 600;

/**
 * The first step of a graceful stop: no new connections (a successor on the same port, or the supervisor's socket,
 * takes them), and the sessions accepted until now get HANDOVER_GRACE_MS to begin a transaction before the drain
 * (Ingress.drain), which lets transactions finish and tells idle sessions 421 4.3.2. Without this step a connection
 * accepted just before the drain would be greeted with 421: turned away, although a successor was accepting.
 */
export async function stopAccepting(server: MxSmtpServer): Promise<void> {
  if (server.server.listening) server.server.close();
  const until = performance.now() + HANDOVER_GRACE_MS;
  const waiting = (): boolean => [...server.bySession.values()].some((c) => !c.session.envelope?.mailFrom);
  while (waiting() && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
}
