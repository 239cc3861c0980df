import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `npm run build` puts the dashboard (web/build.mjs): dist/dashboard beside dist/src. */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/', import.meta.url));

/**
 * The dashboard's pages may load only what the admin listener serves: scripts and styles from
 * its own files (no inline script or style element), data from its own API and event stream,
 * no frame around them.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': DASHBOARD_CSP,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
};

/** The paths that answer the dashboard's page. */
const PAGE_PATHS = new Set(['/', '/dashboard', '/index.html']);

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
  readonly cacheControl: string;
}

/** True for the dashboard's paths: its page and `/assets/...`. */
export function isDashboardPath(path: string): boolean {
  return PAGE_PATHS.has(path) || path.startsWith('/assets/');
}

function asset(file: string, immutable: boolean): Asset {
  const body = readFileSync(file);
  return {
    body,
    type: TYPES[extname(file)] ?? 'application/octet-stream',
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
    // Bundles carry a content hash in their names; the page and the fixed names are revalidated.
    cacheControl: immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
  };
}

/**
 * The dashboard's static files, read once from the build output into memory (about 120 KiB).
 * They hold no data: the page reads everything from the admin API with the visitor's
 * credentials, so they are served to anyone who can reach the listener (the login form among them).
 */
export class DashboardAssets {
  private constructor(
    private readonly files: ReadonlyMap<string, Asset>,
    private readonly dir: string,
  ) {}

  /** Reads the build output; an empty set (every path answers 404 saying so) when it is not built. */
  static load(dir: string = DASHBOARD_DIR): DashboardAssets {
    const files = new Map<string, Asset>();
    try {
      files.set('/index.html', asset(join(dir, 'index.html'), false));
      for (const name of readdirSync(join(dir, 'assets'))) {
        files.set(
          `/assets/${name}`,
          asset(join(dir, 'assets', name), /-[A-Z0-9]{8}\.(?:js|css)$/.test(name)),
        );
      }
    } catch {
      files.clear();
    }
    return new DashboardAssets(files, dir);
  }

  get built(): boolean {
    return this.files.size > 0;
  }

  /** Answers a GET or HEAD for a dashboard path (isDashboardPath). */
  serve(path: string, req: IncomingMessage, res: ServerResponse): void {
    if (!this.built) {
      res
        .writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS })
        .end(`the dashboard is not built: run npm run build (it writes ${this.dir})\n`);
      return;
    }
    const file = this.files.get(PAGE_PATHS.has(path) ? '/index.html' : path);
    if (file === undefined) {
      res
        .writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS })
        .end('not found\n');
      return;
    }
    const headers = {
      ...SECURITY_HEADERS,
      'Content-Type': file.type,
      'Cache-Control': file.cacheControl,
      ETag: file.etag,
    };
    if (req.headers['if-none-match'] === file.etag) {
      res.writeHead(304, headers).end();
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Length': file.body.length });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  }
}
