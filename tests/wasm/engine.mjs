// Loads the wasm build of gatehouse-core (built by `cargo xtask build`) into Node, with the
// worker's hot call (`extension/js/check.js`) bound to it as `check(engine, url, type, nowMs)`,
// and with `broad`, the broad tier the worker loads from the extension's broad.txt.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { checker } from '../../extension/js/check.js';

const dir = new URL('../../extension/wasm/', import.meta.url);

/** @param {{broad?: boolean}} o broad: load the broad tier first, as the worker does at start */
export async function loadEngine({ broad = false } = {}) {
  const module = await import(new URL('gatehouse_core.js', dir));
  const bytes = await readFile(fileURLToPath(new URL('gatehouse_core_bg.wasm', dir)));
  const exports = await module.default({ module_or_path: bytes });
  if (broad) module.loadBroadTier(await readFile(fileURLToPath(new URL('../broad.txt', dir)), 'utf8'));
  return { ...module, memory: exports.memory, check: checker(exports, module.Engine) };
}
