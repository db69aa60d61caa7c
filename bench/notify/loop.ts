// The benchmark's peer (see README.md), in a process of its own like the backend: nodemailer's pool sends the messages
// in argv[2] (JSON) to the relay on port argv[3] in a loop, 20 at a time over 5 connections (the sender's defaults),
// and prints the monotonic clock (process.hrtime, shared by processes on Linux) when it starts and when it is done.
import { readFileSync } from 'node:fs';
import nodemailer from 'nodemailer';
import type { NotifyMessage } from '#server/domain/notify-message.ts';

const messages = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as NotifyMessage[];
const transport = nodemailer.createTransport({
  pool: true,
  host: '127.0.0.1',
  port: Number(process.argv[3]),
  maxConnections: 5,
  maxMessages: 1000,
});
console.log(`start ${process.hrtime.bigint()}`);
let next = 0;
await Promise.all(
  Array.from({ length: 20 }, async () => {
    while (next < messages.length) {
      const m = messages[next++]!;
      await transport.sendMail({ ...m, envelope: { from: 'noreply@localhost', to: [m.to] } });
    }
  }),
);
console.log(`done ${process.hrtime.bigint()}`);
transport.close();
