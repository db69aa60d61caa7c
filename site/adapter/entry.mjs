// Server entry of the Astro build: exposes one fetch-style render call; locals carry the status snapshot.
import { createApp } from 'astro/app/entrypoint';

// Streaming off: the server caches whole pages, so a string is what it wants.
const app = createApp({ streaming: false });

/** @param {Request} request @param {object} locals @returns {Promise<Response>} */
export function renderPage(request, locals) {
  return app.render(request, { locals });
}
