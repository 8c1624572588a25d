// Loads the wasm build of gatehouse-core (built by `cargo xtask build`) into Node.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const dir = new URL('../../extension/wasm/', import.meta.url);

export async function loadEngine() {
  const module = await import(new URL('gatehouse_core.js', dir));
  const bytes = await readFile(fileURLToPath(new URL('gatehouse_core_bg.wasm', dir)));
  await module.default({ module_or_path: bytes });
  return module;
}
