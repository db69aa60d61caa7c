// Pure HTML helpers: escaping text for HTML, and the plain text of the sanitized HTML that server/domain/markdown.ts stores.

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] !== '#') return ENTITIES[e.toLowerCase()] ?? m;
    const code = e[1] === 'x' || e[1] === 'X' ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1));
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : m;
  });
}

/**
 * Plain text of sanitized HTML (the tags markdown.ts allows): blocks and line breaks become new lines, list items
 * start with "- ", a link keeps its address in brackets after its text, entities are decoded.
 */
export function htmlToText(html: string): string {
  const text = html
    // markdown-it's line breaks after block tags are layout of the source, not text
    .replace(/(<\/?(?:p|ul|ol|li|h[1-6]|pre|blockquote|table|thead|tbody|tr|hr|br)\b[^>]*>)\n+/gi, '$1')
    .replace(/<a\s[^>]*href="([^"]*)"[^>]*>([\s\S]*?)<\/a>/gi, (_m, href: string, inner: string) => {
      const url = decodeEntities(href);
      const label = inner.replace(/<[^>]*>/g, '');
      return decodeEntities(label) === url ? inner : `${inner} (${escapeHtml(url)})`;
    })
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<li[^>]*>/gi, '\n- ')
    .replace(/<hr\s*\/?>/gi, '\n----\n')
    .replace(/<\/(p|h[1-6]|pre|blockquote|ul|ol|table|tr)>/gi, '\n\n')
    .replace(/<\/(td|th)>/gi, '\t')
    .replace(/<[^>]*>/g, '');
  return decodeEntities(text)
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
