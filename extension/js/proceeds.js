// Warn mode's "continue": the continues of this browser session, kept in storage.session and
// handed to the engine like approvals (state.proceeds).

import { storage } from './ext.js';

const KEY = 'gatehouse.proceeds';

/** `state` is the worker's; `save` replaces its `proceeds`. */
export function createProceeds({ state }) {
  /** The continues of this browser session still running (storage.session outlives the worker). */
  async function load() {
    const list = (await storage.session(KEY))[KEY];
    const now = Date.now();
    return Array.isArray(list) ? list.filter((p) => typeof p?.service === 'string' && p.untilMs > now) : [];
  }

  async function save(list) {
    state.proceeds = list;
    await storage.setSession({ [KEY]: list });
  }

  return { load, save };
}
