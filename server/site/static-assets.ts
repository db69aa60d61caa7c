// The build's client files (hashed CSS, favicon) held in memory: served without touching the disk per request.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { createHash } from 'node:crypto';

export interface StaticAsset {
  body: Uint8Array<ArrayBuffer>;
  type: string;
  etag: string;
  immutable: boolean;
}

const TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

/** Files under /_astro/ carry a content hash in their name, so browsers and CDNs may keep them forever. */
export function loadStaticAssets(clientDir: string): Map<string, StaticAsset> {
  const out = new Map<string, StaticAsset>();
  if (!existsSync(clientDir)) return out;
  const walk = (dir: string, prefix: string) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      const url = `${prefix}/${name}`;
      if (statSync(full).isDirectory()) {
        walk(full, url);
        continue;
      }
      const file = readFileSync(full);
      const body = new Uint8Array(file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength) as ArrayBuffer);
      out.set(url, {
        body,
        type: TYPES[extname(name)] ?? 'application/octet-stream',
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
        immutable: url.startsWith('/_astro/'),
      });
    }
  };
  walk(clientDir, '');
  return out;
}
