// Byte-level checks on the DATA stream: bare CR/LF (SMTP smuggling), line length and size.
// smtp-server only ends DATA at <CRLF>.<CRLF> and passes every other byte through (after
// un-stuffing dots), so any CR or LF that is not part of a CRLF pair is still visible here.

export type DataVerdict = 'ok' | 'bare-newline' | 'line-too-long' | 'too-big';

export interface DataGuardLimits {
  maxBytes: number;
  /** Longest line in bytes, CRLF excluded; 0 disables the check. */
  maxLineLength: number;
}

const CR = 0x0d;
const LF = 0x0a;

/** Streams the message once; keeps the bytes only while the message can still be accepted. */
export class DataGuard {
  readonly limits: DataGuardLimits;
  verdict: DataVerdict = 'ok';
  size = 0;
  private chunks: Buffer[] = [];
  private pendingCR = false;
  private lineLength = 0;

  constructor(limits: DataGuardLimits) {
    this.limits = limits;
  }

  feed(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.verdict !== 'ok') return;
    if (this.size > this.limits.maxBytes) return this.fail('too-big');
    const maxLine = this.limits.maxLineLength;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (this.pendingCR) {
        if (b !== LF) return this.fail('bare-newline');
        this.pendingCR = false;
        this.lineLength = 0;
        continue;
      }
      if (b === CR) this.pendingCR = true;
      else if (b === LF) return this.fail('bare-newline');
      else if (maxLine > 0 && ++this.lineLength > maxLine) return this.fail('line-too-long');
    }
    this.chunks.push(chunk);
  }

  /** Call once at end of DATA; a CR left without its LF is bare. */
  finish(): DataVerdict {
    if (this.verdict === 'ok' && this.pendingCR) this.fail('bare-newline');
    return this.verdict;
  }

  /** The message bytes exactly as received (dot-unstuffed), valid only when the verdict is ok. */
  body(): Buffer {
    return Buffer.concat(this.chunks);
  }

  private fail(verdict: DataVerdict): void {
    this.verdict = verdict;
    this.chunks = [];
  }
}
