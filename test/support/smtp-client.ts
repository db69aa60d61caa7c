// A raw-socket SMTP client for tests: exact bytes out, whole replies in, nothing smoothed over.
import net from 'node:net';

export interface SmtpReplyLine {
  code: number;
  text: string;
}

export class RawSmtp {
  readonly socket: net.Socket;
  private buffer = '';
  private replies: string[] = [];
  private waiters: ((reply: string | null) => void)[] = [];
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w(null);
    });
    socket.on('error', () => {});
  }

  /** Speaks over an already connected socket, e.g. the TLS socket after STARTTLS. */
  static over(socket: net.Socket): RawSmtp {
    return new RawSmtp(socket);
  }

  /** Hands the socket over (for a TLS upgrade): this reader stops listening to it. */
  detach(): net.Socket {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    return this.socket;
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawSmtp> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host }, () => resolve(new RawSmtp(socket)));
      socket.once('error', reject);
    });
  }

  private onData(chunk: Buffer): void {
    this.buffer += chunk.toString('latin1');
    let start = 0;
    // A reply ends with a line "NNN text"; continuation lines are "NNN-text".
    for (let idx = this.buffer.indexOf('\r\n', start); idx >= 0; idx = this.buffer.indexOf('\r\n', start)) {
      const line = this.buffer.slice(start, idx);
      start = idx + 2;
      if (/^\d{3}(?: |$)/.test(line)) {
        const reply = this.buffer.slice(0, idx);
        this.buffer = this.buffer.slice(start);
        start = 0;
        const w = this.waiters.shift();
        if (w) w(reply);
        else this.replies.push(reply);
      }
    }
  }

  /** The next whole reply (multi-line replies joined by CRLF), or null when the server hung up. */
  read(timeoutMs = 5000): Promise<string | null> {
    const r = this.replies.shift();
    if (r !== undefined) return Promise.resolve(r);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const waiter = (reply: string | null): void => {
        clearTimeout(t);
        resolve(reply);
      };
      // A timed-out read leaves the queue, so a late reply goes to the next read instead of vanishing.
      const t = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no SMTP reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Sends one command line and returns its reply. */
  async cmd(line: string): Promise<string | null> {
    this.write(`${line}\r\n`);
    return this.read();
  }

  /** Greeting, EHLO, MAIL, RCPTs: returns the RCPT replies. */
  async open(from: string, rcpts: string[]): Promise<string[]> {
    await this.read();
    await this.cmd('EHLO client.test');
    await this.cmd(`MAIL FROM:<${from}>`);
    const out: string[] = [];
    for (const r of rcpts) out.push((await this.cmd(`RCPT TO:<${r}>`)) ?? '');
    return out;
  }

  close(): void {
    this.socket.destroy();
  }
}

export const codeOf = (reply: string | null): number => (reply ? Number(reply.slice(0, 3)) : 0);
