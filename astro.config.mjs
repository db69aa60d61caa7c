// Astro build of the public site: pages rendered on demand inside the Hono server from the status snapshot.
import { defineConfig, passthroughImageService } from 'astro/config';
import tidingsAdapter from './site/adapter/integration.mjs';

export default defineConfig({
  srcDir: './site',
  publicDir: './site/public',
  outDir: './dist/site',
  output: 'server',
  adapter: tidingsAdapter(),
  devToolbar: { enabled: false },
  // The site has no images to optimise; this keeps sharp out of the build.
  image: { service: passthroughImageService() },
  // One hashed stylesheet per build, served with immutable caching; pages stay small.
  build: { inlineStylesheets: 'never', assets: '_astro' },
  compressHTML: true,
});
