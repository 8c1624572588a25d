// Runs tests/wasm/hotpath.mjs in a headless Chromium page: the JavaScript engine, TextEncoder and
// wasm compiler the service worker really runs on, which Node only stands in for (measured
// 2026-12: TextEncoder.encodeInto costs about 90 ns a URL in Node 20 and 310 ns in Chromium 156).
// The page is served from this repository by a local server that answers only for the built
// extension, these scripts and the benchmark's workload, cross-origin isolated so that
// performance.now() is precise to microseconds.
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SERVED = ['extension/', 'tests/wasm/', 'target/gatehouse-bench/'];
const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };
const PLAYWRIGHT = join(root, 'tests/browser/node_modules/playwright-core/index.mjs');

function serve() {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://bench').pathname)).slice(1);
    const headers = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
    if (path === '') {
      res.writeHead(200, { ...headers, 'Content-Type': 'text/html' }).end('<!doctype html><title>wasm bench</title>');
      return;
    }
    if (path.split(sep).includes('..') || !SERVED.some((p) => path.startsWith(p))) {
      res.writeHead(404, headers).end();
      return;
    }
    try {
      const body = await readFile(join(root, path));
      res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(path)] ?? 'text/plain' }).end(body);
    } catch {
      res.writeHead(404, headers).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Runs in the page: the module as the worker loads it, then the shared measurement. */
async function inPage({ nowMs }) {
  const module = await import('/extension/wasm/gatehouse_core.js');
  const exports = await module.default({ module_or_path: fetch('/extension/wasm/gatehouse_core_bg.wasm') });
  module.loadBroadTier(await (await fetch('/extension/broad.txt')).text());
  const { checker } = await import('/extension/js/check.js');
  const { measureHotPath } = await import('/tests/wasm/hotpath.mjs');
  const text = async (path) => (await fetch(path)).text();
  const urls = (await text('/target/gatehouse-bench/workload.txt')).split('\n').filter(Boolean);
  const wasm = { ...module, memory: exports.memory, check: checker(exports, module.Engine) };
  const { engines, ...numbers } = measureHotPath(wasm, urls, await text('/target/gatehouse-bench/policy-100k.json'), nowMs);
  for (const engine of engines) engine.free();
  return { ...numbers, isolated: crossOriginIsolated, userAgent: navigator.userAgent };
}

/**
 * The hot path's numbers in Chromium at `chromium` (the binary), on the workload bench.mjs
 * wrote to target/gatehouse-bench. Throws when Chromium or playwright-core (tests/browser's
 * npm packages, which `cargo xtask bench` installs) is missing.
 */
export async function measureInChromium(chromium, nowMs) {
  if (!existsSync(chromium)) throw new Error(`no Chromium at ${chromium}`);
  if (!existsSync(PLAYWRIGHT)) throw new Error('playwright-core is not installed: npm ci in tests/browser (cargo xtask bench does)');
  const { chromium: launcher } = await import(pathToFileURL(PLAYWRIGHT));
  const server = await serve();
  const browser = await launcher.launch({ executablePath: chromium, headless: true, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    return await page.evaluate(inPage, { nowMs });
  } finally {
    await browser.close();
    server.close();
  }
}
