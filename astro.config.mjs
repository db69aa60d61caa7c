// Astro build of the public site: pages rendered on demand inside the Hono server from the status snapshot.
import { defineConfig } from 'astro/config';
import tidingsAdapter from './site/adapter/integration.mjs';

export default defineConfig({
  srcDir: './site',
  publicDir: './site/public',
  outDir: './dist/site',
  output: 'server',
  adapter: tidingsAdapter(),
  session: undefined,
  devToolbar: { enabled: false },
  // One hashed stylesheet per build, served with immutable caching; pages stay small.
  build: { inlineStylesheets: 'never', assets: '_astro' },
  compressHTML: true,
});
