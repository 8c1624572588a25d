// Service workers and caches of blocked sites.
//
// A site used while its category was open (warn, monitor, off, an approval, out of scope) may
// register a service worker. After the switch to block, that worker answers navigations from its
// cache — Chromium's declarativeNetRequest never sees a response a service worker gives — and it
// can still fetch and receive web push (tamper finding 11). So whenever the verdicts change (and
// at every start), the service workers and Cache Storage of every origin that is now blocked are
// removed with browsingData. Removing the registration also ends its push subscription.
//
// Which origins: every catalogue host (and its `www.`), and every origin where a categorised
// frame actually loaded (recorded by `seen`, which also covers a policy's own rules). An origin is
// cleared once when it becomes blocked, and again only after it was open and seen again.
//
// Not done here, stated: the notification *permission* stays as the user set it. Without a
// service worker there is no push, and a blocked origin has no page to show notifications from;
// refusing the permission as well needs the `contentSettings` permission (or the policy
// NotificationsBlockedForUrls), see extension/README.md.

import { browsingData } from './ext.js';
import { storedValue } from './stored-list.js';

const KEY = 'gatehouse.siteData';
const SEEN_MAX = 500;
const DATA_TYPES = Object.freeze({ serviceWorkers: true, cacheStorage: true });

function originOf(url) {
  try {
    const u = new URL(url);
    return /^https?:$/.test(u.protocol) ? u.origin : null;
  } catch {
    return null;
  }
}

/** [origin, url] for each catalogue pattern: the URL is what the verdict is asked about. */
export function catalogueOrigins(catalogue) {
  const out = [];
  // wasm-core's `catalogue()` is the list of services.
  const services = Array.isArray(catalogue) ? catalogue : catalogue?.services ?? [];
  for (const service of services) {
    for (const pattern of service.patterns ?? []) {
      const text = String(pattern).replace(/^=|^\*\./, '');
      const host = text.split('/')[0];
      const url = `https://${text}`;
      out.push([`https://${host}`, url]);
      if (!pattern.startsWith('=') && host.split('.').length === 2) out.push([`https://www.${host}`, `https://www.${text}`]);
    }
  }
  return out;
}

/**
 * @param {{audit: (event: object) => void, catalogue: () => object|null}} o
 */
export function createSiteData({ audit, catalogue }) {
  const store = storedValue('local', KEY, () => ({ seen: {}, cleared: {} }), (v) => v && typeof v.seen === 'object' && typeof v.cleared === 'object');
  let catalogueList = null;

  /** A categorised frame loaded at `url` while its service was open. */
  function seen(url) {
    const origin = originOf(url);
    if (!origin) return Promise.resolve();
    return store.update((v) => {
      // One write per origin while it stays open, not one per navigation inside it.
      if (origin in v.seen && !(origin in v.cleared)) return { write: false };
      delete v.cleared[origin];
      v.seen[origin] = url;
      const keys = Object.keys(v.seen);
      if (keys.length > SEEN_MAX) for (const k of keys.slice(0, keys.length - SEEN_MAX)) delete v.seen[k];
      return undefined;
    }).catch(() => {});
  }

  /**
   * Clears the service workers and caches of every origin that `blocked(url)` says is blocked
   * and that was not cleared since it last was open. Never throws.
   * @param {(url: string) => boolean} blocked
   * @returns {Promise<{origins: string[], ok: boolean, error?: string, ms: number}>}
   */
  function clearBlocked(blocked) {
    const t0 = Date.now();
    catalogueList ??= catalogueOrigins(catalogue());
    return store.update(async (v) => {
      const candidates = new Map(catalogueList);
      for (const [origin, url] of Object.entries(v.seen)) candidates.set(origin, url);
      const clear = [];
      for (const [origin, url] of candidates) {
        let isBlocked = false;
        try { isBlocked = blocked(url); } catch { isBlocked = false; }
        if (!isBlocked) delete v.cleared[origin];
        else if (!(origin in v.cleared)) clear.push(origin);
      }
      if (!clear.length) return { write: false, result: { origins: [], ok: true, ms: Date.now() - t0 } };
      const used = clear.filter((o) => o in v.seen);
      const done = await browsingData.removeForOrigins(clear, DATA_TYPES);
      if (done.ok) {
        for (const origin of clear) {
          v.cleared[origin] = Date.now();
          delete v.seen[origin];
        }
      }
      const result = { origins: clear, ok: done.ok, error: done.error, ms: Date.now() - t0 };
      audit({
        kind: 'site_data_cleared',
        data: Object.keys(DATA_TYPES),
        origins: clear.length,
        // The origins a person actually used, not the whole catalogue sweep.
        usedOrigins: used.slice(0, 50),
        ok: done.ok,
        error: done.error ?? null,
      });
      return { result };
    }).catch((err) => ({ origins: [], ok: false, error: String(err), ms: Date.now() - t0 }));
  }

  return { seen, clearBlocked };
}
