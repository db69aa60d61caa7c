// The SMTP load of bench:smtp-scan: closed loop, `sessions` TCP_NODELAY sessions, each sending its next message of
// the mix (MAIL/RCPT/DATA pipelined, as bench/smtp-accept/load.ts does) as soon as the previous one has its final
// reply. Unlike that generator it sends different messages and keeps going after a 5xx (a virus refused at DATA is
// an expected answer here), and it records every message's class, the time its data went out and its final reply.
import net from 'node:net';
import { wallNow } from '../smtp-accept/load.ts';
import { SmtpReplies } from '../lib/smtp-replies.ts';
import type { Corpus } from './corpus.ts';
import { HAM_SENDER } from '../../test/support/mail-corpus.ts';

export interface SmtpSample {
  n: number;
  /** Wall clock (ms since the epoch): the end of the data written, and its final reply read. */
  dataAt: number;
  replyAt: number;
  code: number;
}

export interface SmtpResult {
  samples: SmtpSample[];
  /** Broken sessions and replies other than 250 or 5xx (a 451 is an error here: the mix has nothing to retry). */
  errors: number;
  errorReplies: string[];
  firstAt: number;
}

export async function driveSmtp(opts: {
  port: number;
  sessions: number;
  durationMs: number;
  corpus: Corpus;
  recipients: string[];
}): Promise<SmtpResult> {
  const samples: SmtpSample[] = [];
  const errorReplies: string[] = [];
  let errors = 0;
  let next = 0;
  const stopAt = performance.now() + opts.durationMs;
  const firstAt = wallNow();
  const error = (what: string): void => {
    errors++;
    if (errorReplies.length < 5) errorReplies.push(what);
  };

  async function session(): Promise<void> {
    const socket = net.connect({ port: opts.port, host: '127.0.0.1' });
    socket.setNoDelay(true);
    const replies = new SmtpReplies(socket);
    await replies.read();
    socket.write(`EHLO ${HAM_SENDER.helo}\r\n`);
    await replies.read();
    while (performance.now() < stopAt) {
      const n = next++;
      const rcpt = opts.recipients[n % opts.recipients.length];
      socket.write(`MAIL FROM:<${HAM_SENDER.from.address}>\r\nRCPT TO:<${rcpt}>\r\nDATA\r\n`);
      const r1 = await replies.read();
      const r2 = await replies.read();
      const r3 = await replies.read();
      if (!r1?.startsWith('250') || !r2?.startsWith('250') || !r3?.startsWith('354')) {
        error(`${r1} / ${r2} / ${r3}`);
        break;
      }
      socket.write(Buffer.concat([opts.corpus.message(n, rcpt), Buffer.from('.\r\n')]));
      const dataAt = wallNow();
      const r = await replies.read();
      const replyAt = wallNow();
      if (r === null) {
        error('(connection closed after DATA)');
        break;
      }
      const code = Number(r.slice(0, 3));
      if (code !== 250 && !(code >= 500 && code < 600)) error(r);
      samples.push({ n, dataAt, replyAt, code });
    }
    socket.write('QUIT\r\n');
    socket.end();
  }

  await Promise.all(Array.from({ length: opts.sessions }, session));
  return { samples, errors, errorReplies, firstAt };
}
