// Where the policy comes from: managed storage (what the administrator set), the last managed
// policy that parsed (cached in storage.local), or the embedded default (every category blocked).
//
// storage.managed reads `{}` for seconds after a cold start or first install, and the values
// then arrive through storage.onChanged (see tests/browser/README.md). An empty read is therefore
// never taken as "no policy": the cached policy stays in force, and only an onChanged that
// empties managed storage (the administrator really removed the policy) drops the cache.

import { storage } from './ext.js';

const CACHE_KEY = 'gatehouse.lastGoodPolicy';

export const SOURCE = Object.freeze({ managed: 'managed', cached: 'cached', embedded: 'embedded' });

/**
 * Builds an engine for the policy in force.
 * @param {typeof import('../wasm/gatehouse_core.js').Engine} Engine
 * @param {{managedRemoved?: boolean}} options managedRemoved: an onChanged emptied managed storage.
 * @returns {Promise<{engine, source, error: string|null, savedMs: number|null, warnings: Array, loadedMs: number}>}
 */
export async function loadPolicy(Engine, { managedRemoved = false } = {}) {
  const managed = await storage.managed();
  let error = null;
  if (managed && Object.keys(managed).length > 0) {
    const json = JSON.stringify(managed);
    try {
      const engine = new Engine(json);
      const savedMs = Date.now();
      await storage.setLocal({ [CACHE_KEY]: { json, savedMs } });
      return done(engine, SOURCE.managed, null, savedMs);
    } catch (err) {
      // Unusable as a whole: the embedded default applies (docs/architecture.md, "The decision"), and the
      // cache is left alone so a later fix of the managed policy is the only way forward.
      return done(new Engine(), SOURCE.embedded, `managed policy unusable: ${err?.message ?? err}`, null);
    }
  }
  if (managedRemoved) {
    await storage.removeLocal(CACHE_KEY);
  } else {
    const cached = (await storage.local(CACHE_KEY))[CACHE_KEY];
    if (cached?.json) {
      try {
        return done(new Engine(cached.json), SOURCE.cached, null, cached.savedMs ?? null);
      } catch (err) {
        error = `cached policy unusable: ${err?.message ?? err}`;
      }
    }
  }
  return done(new Engine(), SOURCE.embedded, error, null);
}

function done(engine, source, error, savedMs) {
  let warnings = [];
  try {
    warnings = engine.warnings();
  } catch (err) {
    warnings = [{ path: '$', message: `warnings unavailable: ${err?.message ?? err}` }];
  }
  return { engine, source, error, savedMs, warnings, loadedMs: Date.now() };
}
