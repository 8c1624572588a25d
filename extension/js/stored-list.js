// A value kept in chrome.storage with exactly one writer.
//
// The worker used to keep lists as `x ??= await storage.get(…)`: two callers during start-up both
// awaited the read, the second assignment replaced the first's array, and events pushed onto the
// first were lost (issue 10, "lost audit events"). Here every read-modify-write runs in order on
// one promise chain, against one in-memory copy loaded once, and is written back before the next
// change starts. Storage errors are logged by ext.js and never break the chain.

import { safe } from './ext.js';

/**
 * @template T
 * @param {'local'|'session'} area
 * @param {string} key
 * @param {() => T} empty the value when nothing is stored (or what is stored is malformed)
 * @param {(stored: unknown) => boolean} [valid]
 */
export function storedValue(area, key, empty, valid = () => true) {
  let value = null;
  let tail = null;

  async function load() {
    const got = await safe(`storage.${area}.get`, () => chrome.storage[area].get(key), {});
    const stored = got?.[key];
    value = stored !== undefined && valid(stored) ? stored : empty();
  }

  async function write() {
    await safe(`storage.${area}.set`, () => chrome.storage[area].set({ [key]: value }));
  }

  /**
   * Runs `change(value)` after every change queued before it; `change` may mutate `value` or
   * return a replacement in `{value}`; resolves to `change`'s `result`.
   * @param {(value: T) => (void | {value?: T, result?: unknown, write?: boolean} | Promise<…>)} change
   */
  function update(change) {
    const run = async () => {
      if (value === null) await load();
      const out = (await change(value)) ?? {};
      if ('value' in out) value = out.value;
      if (out.write !== false) await write();
      return out.result;
    };
    const next = (tail ?? Promise.resolve()).then(run);
    tail = next.catch((err) => console.error(`gatehouse: ${area} ${key}:`, err));
    return next;
  }

  /** The current value, after every queued change. */
  function read() {
    return update(() => ({ result: value, write: false }));
  }

  return { update, read };
}

/**
 * A list capped at `max` entries that keeps the newest; counts what it had to drop.
 * Stored as `{items, dropped, firstDroppedMs, lastDroppedMs}`.
 */
export function storedList(area, key, max) {
  const store = storedValue(
    area,
    key,
    () => ({ items: [], dropped: 0, firstDroppedMs: null, lastDroppedMs: null }),
    (v) => v && Array.isArray(v.items) && Number.isFinite(v.dropped),
  );
  return {
    push(item) {
      return store.update((v) => {
        v.items.push(item);
        if (v.items.length > max) {
          const dropped = v.items.splice(0, v.items.length - max);
          v.dropped += dropped.length;
          v.firstDroppedMs ??= dropped[0]?.atMs ?? Date.now();
          v.lastDroppedMs = dropped.at(-1)?.atMs ?? Date.now();
        }
      });
    },
    items: () => store.read().then((v) => v.items.slice()),
    update: store.update,
  };
}
