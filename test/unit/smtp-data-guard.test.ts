// DataGuard: bare CR/LF anywhere (also across chunk boundaries), line length and size verdicts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataGuard } from '#mailsystem/smtp/data-guard.ts';

const run = (chunks: string[], maxBytes = 1000, maxLineLength = 0): { verdict: string; body: string } => {
  const g = new DataGuard({ maxBytes, maxLineLength });
  for (const c of chunks) g.feed(Buffer.from(c, 'latin1'));
  const verdict = g.finish();
  return { verdict, body: verdict === 'ok' ? g.body().toString('latin1') : '' };
};

describe('DataGuard', () => {
  it('accepts CRLF-only text, NUL and 8-bit bytes, byte for byte', () => {
    const g = new DataGuard({ maxBytes: 100, maxLineLength: 0 });
    const bytes = Buffer.from([0x41, 0x00, 0xff, 0x80, 0x0d, 0x0a]);
    g.feed(bytes);
    assert.equal(g.finish(), 'ok');
    assert.ok(g.body().equals(bytes));
  });

  it('finds a bare LF, a bare CR, CR CR LF and a trailing CR', () => {
    for (const text of ['a\nb\r\n', 'a\rb\r\n', 'a\r\r\n', 'a\r\n\r'])
      assert.equal(run([text]).verdict, 'bare-newline', JSON.stringify(text));
  });

  it('pairs a CR at the end of one chunk with the LF at the start of the next', () => {
    assert.equal(run(['line\r', '\nnext\r\n']).verdict, 'ok');
    assert.equal(run(['line\r', 'x\r\n']).verdict, 'bare-newline');
  });

  it('counts line length per line, across chunks', () => {
    assert.equal(run(['12345\r\n', '123', '45\r\n'], 1000, 5).verdict, 'ok');
    assert.equal(run(['123', '456\r\n'], 1000, 5).verdict, 'line-too-long');
  });

  it('stops keeping bytes once the message is over the size limit', () => {
    const g = new DataGuard({ maxBytes: 10, maxLineLength: 0 });
    g.feed(Buffer.from('0123456789\r\n'));
    g.feed(Buffer.from('more\r\n'));
    assert.equal(g.finish(), 'too-big');
    assert.equal(g.body().length, 0);
    assert.equal(g.size, 18);
  });
});
