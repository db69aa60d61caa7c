// A scripted fake of a legacy MX on loopback for RCPT probes: greeting, EHLO/HELO, MAIL and RCPT replies as the test
// says (a Promise holds the RCPT reply until the test resolves it), every command recorded.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface Fake {
  port: number;
  connections: number;
  /** Every command line received, across connections. */
  commands: string[];
  close(): Promise<void>;
}

/** rcpt: the reply to RCPT TO for an address; greeting: the first reply (null: say nothing). */
export async function fakeSmtp(opts: {
  rcpt?: (address: string) => string | null | Promise<string>;
  greeting?: string | null;
  ehlo?: string;
  mail?: string;
}): Promise<Fake> {
  const sockets = new Set<Socket>();
  const fake: Fake = { port: 0, connections: 0, commands: [], close: async () => {} };
  const server: Server = createServer((socket) => {
    fake.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.setEncoding('latin1');
    const greeting = opts.greeting === undefined ? '220 old.test ESMTP' : opts.greeting;
    if (greeting !== null) socket.write(`${greeting}\r\n`);
    let buf = '';
    socket.on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        fake.commands.push(line);
        const verb = line.slice(0, 4).toUpperCase();
        let reply: string | null | Promise<string>;
        if (verb === 'EHLO') reply = opts.ehlo ?? '250-old.test\r\n250-PIPELINING\r\n250 8BITMIME';
        else if (verb === 'HELO') reply = '250 old.test';
        else if (verb === 'MAIL') reply = opts.mail ?? '250 2.1.0 Ok';
        else if (verb === 'RCPT') reply = (opts.rcpt ?? (() => '250 2.1.5 Ok'))(/<(.*)>/.exec(line)?.[1] ?? '');
        else if (verb === 'QUIT') {
          socket.end('221 2.0.0 Bye\r\n');
          return;
        } else reply = '502 5.5.2 Error: command not recognized';
        if (reply instanceof Promise) void reply.then((r) => socket.writable && socket.write(`${r}\r\n`));
        else if (reply !== null) socket.write(`${reply}\r\n`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.port = (server.address() as AddressInfo).port;
  fake.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return fake;
}
