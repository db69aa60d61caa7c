// The bytes one copy is delivered with: the stored body, shared by every copy, plus this copy's added headers and
// subject prefix (a 'tag' policy). Everything else is passed through byte for byte.
import type { AddedHeaders } from '#mailsystem/queue/store.ts';

/** Where the header block ends: the index of the empty line's first byte, or the body length without one. */
function headerEnd(body: Buffer): number {
  for (let i = 0; i < body.length; i++) {
    if (body[i] !== 0x0a) continue;
    const next = body[i + 1];
    if (next === 0x0a) return i + 1;
    if (next === 0x0d && body[i + 2] === 0x0a) return i + 1;
  }
  return body.length;
}

/** The offset just after "Subject:" and its blanks on the first Subject line of the header block, or -1. */
function subjectValueStart(body: Buffer, end: number): number {
  for (let line = 0; line < end; ) {
    if (
      body
        .subarray(line, line + 8)
        .toString('latin1')
        .toLowerCase() === 'subject:'
    ) {
      let i = line + 8;
      while (i < end && (body[i] === 0x20 || body[i] === 0x09)) i++;
      return i;
    }
    const nl = body.indexOf(0x0a, line);
    if (nl < 0 || nl >= end) return -1;
    line = nl + 1;
  }
  return -1;
}

export function renderCopy(body: Buffer, added: AddedHeaders | null): Buffer {
  if (!added || (added.headers.length === 0 && !added.subjectPrefix)) return body;
  const lines = added.headers.map(([name, value]) => `${name}: ${value}\r\n`);
  const end = headerEnd(body);
  const at = added.subjectPrefix ? subjectValueStart(body, end) : -1;
  if (added.subjectPrefix && at < 0) lines.push(`Subject: ${added.subjectPrefix.trimEnd()}\r\n`);
  const head = Buffer.from(lines.join(''), 'utf8');
  if (at < 0) return Buffer.concat([head, body]);
  return Buffer.concat([head, body.subarray(0, at), Buffer.from(added.subjectPrefix as string, 'utf8'), body.subarray(at)]);
}
