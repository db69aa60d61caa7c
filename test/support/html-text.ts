// What a reader sees of an HTML page, as one whitespace-collapsed string, and in-order line matching against it.
import assert from 'node:assert/strict';

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

/** Drops head, scripts, styles and aria-hidden decorations; block tags become spaces. */
export function visibleText(html: string): string {
  const body = html
    .replace(/<head[\s\S]*?<\/head>/i, ' ')
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<(\w+)[^>]*aria-hidden="true"[^>]*>[\s\S]*?<\/\1>/g, ' ');
  // Inline tags join text as a browser shows it ("12:00 GMT</time>." reads "12:00 GMT."); other tags separate.
  const joined = body.replace(/<\/?(a|span|time|strong|em|b|i|code|abbr|small)\b[^>]*>/gi, '').replace(/<[^>]*>/g, ' ');
  return decodeEntities(joined).replace(/\s+/g, ' ').trim();
}

/** Asserts each line occurs in `text` after the previous one, and says which line broke the order. */
export function assertInOrder(text: string, lines: readonly string[]): void {
  let from = 0;
  for (const line of lines) {
    const at = text.indexOf(line, from);
    assert.ok(
      at >= 0,
      `expected "${line}" after position ${from}; ${text.includes(line) ? 'it occurs only earlier' : 'it is missing'}.\nText from there: ${text.slice(from, from + 300)}`,
    );
    from = at + line.length;
  }
}
