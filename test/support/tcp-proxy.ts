// A loopback TCP relay in front of a real server: counts the sessions through it and keeps what each client sent.
import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** What each client sent, one entry per connection, in order of connection. */
  sessions: Buffer[][];
  /** The client's lines of session i (e.g. to count its RCPT TO commands). */
  clientLines(i: number): string[];
  /** Cuts every open connection (as a server's idle timeout would) and keeps listening. */
  dropAll(): void;
  /** Cuts every open connection and stops listening. */
  stop(): Promise<void>;
}

export async function startTcpProxy(upstreamPort: number, upstreamHost = '127.0.0.1'): Promise<TcpProxy> {
  const open = new Set<net.Socket>();
  const sessions: Buffer[][] = [];
  const server = net.createServer((client) => {
    const sent: Buffer[] = [];
    sessions.push(sent);
    client.on('data', (c: Buffer) => sent.push(c));
    const upstream = net.connect(upstreamPort, upstreamHost);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        open.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    sessions,
    clientLines: (i) =>
      Buffer.concat(sessions[i] ?? [])
        .toString('latin1')
        .split('\r\n'),
    dropAll: () => {
      for (const s of open) s.destroy();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
