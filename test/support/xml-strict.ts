// Well-formedness checks that fast-xml-parser's XMLValidator leaves out: it accepts `<` and bare `&` in attribute values.
import assert from 'node:assert/strict';
import { XMLValidator } from 'fast-xml-parser';

const NAME = String.raw`[A-Za-z_:][\w.:-]*`;
const ATTR = String.raw`\s+${NAME}\s*=\s*(?:"[^"<]*"|'[^'<]*')`;
const TAG = new RegExp(String.raw`<(?:/${NAME}\s*>|${NAME}(?:${ATTR})*\s*/?>)`, 'y');
const REF = /&(?:#[0-9]+|#x[0-9a-fA-F]+|lt|gt|amp|quot|apos);/y;

/** Asserts XMLValidator accepts the document and that every markup `<` opens a complete tag and every `&` a reference. */
export function assertWellFormedXml(xml: string, what: string): void {
  const valid = XMLValidator.validate(xml);
  assert.equal(valid, true, `${what} is not well-formed: ${JSON.stringify(valid)}`);
  // Markup that may hold anything: CDATA sections, comments, the declaration and processing instructions.
  const rest = xml.replace(/<!\[CDATA\[[\s\S]*?\]\]>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>/g, '');
  for (let i = 0; i < rest.length; i++) {
    if (rest.startsWith(']]>', i)) assert.fail(`${what}: "]]>" in text outside a CDATA section`);
    if (rest[i] === '<') {
      TAG.lastIndex = i;
      const m = TAG.exec(rest);
      assert.ok(m, `${what}: malformed tag at ${JSON.stringify(rest.slice(i, i + 120))}`);
      // References inside attribute values must be well-formed too.
      for (const [j, c] of [...m[0]].entries()) if (c === '&') checkRef(rest, i + j, what);
      i += m[0].length - 1;
    } else if (rest[i] === '&') {
      checkRef(rest, i, what);
    }
  }
}

function checkRef(s: string, at: number, what: string): void {
  REF.lastIndex = at;
  assert.ok(REF.test(s), `${what}: bare "&" at ${JSON.stringify(s.slice(at, at + 40))}`);
}
