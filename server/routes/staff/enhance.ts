// Optional JavaScript for staff pages: a live Markdown preview, rendered by the server's sanitizer; every page works without it.
import { Hono } from 'hono';
import type { ServerDeps } from '../../deps.ts';
import type { AuthEnv } from '../../http/auth.ts';
import { renderMarkdown } from '../../domain/markdown.ts';
import { readForm } from './forms.ts';

/** Plain browser JavaScript; the HTML it inserts comes only from POST /staff/preview (sanitized server-side). */
export const ENHANCE_JS = `// Tidings staff: live Markdown preview for textareas marked data-preview.
(() => {
  const token = document.querySelector('input[name="_csrf"]');
  if (!token) return;
  for (const area of document.querySelectorAll('textarea[data-preview]')) {
    const out = document.createElement('section');
    out.className = 'preview live';
    out.setAttribute('aria-live', 'polite');
    out.setAttribute('aria-label', 'Live preview');
    area.after(out);
    let timer = 0;
    let seq = 0;
    const render = async () => {
      const mine = ++seq;
      const res = await fetch('/staff/preview', {
        method: 'POST', credentials: 'same-origin',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-csrf-token': token.value },
        body: new URLSearchParams({ markdown: area.value }),
      });
      if (!res.ok || mine !== seq) return;
      out.innerHTML = (await res.json()).html;
    };
    area.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(render, 250); });
  }
})();
`;

export function enhanceRoutes(_deps: ServerDeps): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  app.get('/assets/enhance.js', (c) =>
    c.body(ENHANCE_JS, 200, {
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': 'public, max-age=300',
      'x-content-type-options': 'nosniff',
    }),
  );
  // Guarded (staff + CSRF) where it is mounted: the sanitizer is cheap, but it is not a public service.
  app.post('/preview', async (c) => {
    const form = await readForm(c);
    const markdown = (form.markdown ?? '').slice(0, 100_000);
    c.header('Cache-Control', 'no-store');
    return c.json({ html: renderMarkdown(markdown) });
  });
  return app;
}
