// Loads the wasm build of gatehouse-core (built by `cargo xtask build`) into Node, with the
// worker's hot call (`extension/js/check.js`) bound to it as `check(engine, url, type, nowMs)`.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { checker } from '../../extension/js/check.js';

const dir = new URL('../../extension/wasm/', import.meta.url);

export async function loadEngine() {
  const module = await import(new URL('gatehouse_core.js', dir));
  const bytes = await readFile(fileURLToPath(new URL('gatehouse_core_bg.wasm', dir)));
  const exports = await module.default({ module_or_path: bytes });
  return { ...module, memory: exports.memory, check: checker(exports, module.Engine) };
}
