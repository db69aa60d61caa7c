// The SMTP benches' reply reader (bench/smtp-accept, bench/smtp-scan): their sessions pipeline MAIL/RCPT/DATA and
// read the replies back in order.
import type net from 'node:net';

/** Whole replies in order (continuation lines dropped); null once the server hung up. */
export class SmtpReplies {
  private buf = '';
  private waiting: ((r: string | null) => void)[] = [];
  private ready: string[] = [];
  private closed = false;

  constructor(socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      for (let i = this.buf.indexOf('\r\n'); i >= 0; i = this.buf.indexOf('\r\n')) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        if (line[3] === '-') continue;
        const w = this.waiting.shift();
        if (w) w(line);
        else this.ready.push(line);
      }
    });
    const end = (): void => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w(null);
    };
    socket.on('close', end);
    socket.on('error', end);
  }

  read(): Promise<string | null> {
    const r = this.ready.shift();
    if (r !== undefined) return Promise.resolve(r);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}
