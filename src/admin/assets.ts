// The status page's files. From the source tree they are read where they are; in the single
// binary scripts/build.ts embeds them as SEA assets under these keys (as it does the executor's
// files, src/worker-pool/files.ts), so the page needs no network and no files beside the binary.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { getAsset, isSea } from 'node:sea';

/** SEA asset key → path from the repository root. */
export const PAGE_ASSETS = {
  'page/index.html': 'src/admin/page/index.html',
  'page/page.css': 'src/admin/page/page.css',
  'page/page.js': 'src/admin/page/page.js',
  'page/uPlot.iife.min.js': 'node_modules/uplot/dist/uPlot.iife.min.js',
  'page/uPlot.min.css': 'node_modules/uplot/dist/uPlot.min.css',
} as const;

type Key = keyof typeof PAGE_ASSETS;

function read(key: Key): string {
  if (isSea()) return getAsset(key, 'utf8');
  return readFileSync(resolve(import.meta.dirname, '../..', PAGE_ASSETS[key]), 'utf8');
}

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

export interface Page {
  html: string;
  /** Allows exactly the inlined script and style, and connections back to this origin. */
  csp: string;
}

let page: Page | undefined;

/** One HTML document with uPlot, the page's script and styles inlined; built once. */
export function statusPage(): Page {
  if (page) return page;
  const style = `${read('page/uPlot.min.css')}\n${read('page/page.css')}`;
  const scripts = [read('page/uPlot.iife.min.js'), read('page/page.js')];
  // A function as the replacement: minified code holds `$&`-like sequences.
  const html = read('page/index.html')
    .replace('<!-- STYLE -->', () => `<style>${style}</style>`)
    .replace('<!-- SCRIPTS -->', () => scripts.map((s) => `<script>${s}</script>`).join('\n'));
  const csp = [
    "default-src 'none'",
    `script-src ${scripts.map(sha256).join(' ')}`,
    `style-src ${sha256(style)}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  page = { html, csp };
  return page;
}
