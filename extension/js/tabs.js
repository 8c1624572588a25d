// Open tabs, when the verdicts change.
//
// declarativeNetRequest acts on requests, so a page that loaded while its service was allowed
// (monitor, warn with a "continue", an approval, out of scope) keeps running — and its WebSocket
// keeps delivering messages — after the category turns to block, the approval ends or the
// continue runs out (tamper finding 10). After every change of the rules the worker therefore
// looks at every open tab: a main frame that is now stopped goes to the block page (which ends
// the page and its connections); a tab with a stopped subframe is reloaded, so that the rules
// catch the frame's new request.
//
// `tabs.query` fills in `url` for hosts the extension has host access to; with <all_urls> that is
// every web page, so the "tabs" permission is not needed
// (https://developer.chrome.com/docs/extensions/reference/api/tabs#perms).
//
// Not covered, stated: a WebSocket or fetch that an *allowed* page keeps open to a now-blocked
// host (the browser lists no connections to extensions); new requests on it are blocked, the open
// socket lives until the page goes. Service workers of blocked origins: sitedata.js.

import { frames, tabs } from './ext.js';

const WEB = /^https?:/i;

/**
 * @param {object} o
 * @param {(url: string, type: 'main_frame'|'sub_frame') => Promise<object|null>} o.stopped
 *   the verdict when a frame at `url` must not stay open, else null
 * @param {(url: string) => string} o.blockUrl
 * @param {(event: object) => void} o.audit
 * @returns {Promise<{tabs: number, sent: number, reloaded: number, ms: number}>}
 */
export async function recheckOpenTabs({ stopped, blockUrl, audit }) {
  const t0 = Date.now();
  const all = await tabs.query({});
  let sent = 0;
  let reloaded = 0;
  for (const tab of all) {
    // The committed page: a navigation still in flight (`pendingUrl`) meets the rules itself,
    // and sending it elsewhere would only race it. A blocked page that stays up while a slow
    // navigation is pending is still caught here.
    const url = tab.url;
    if (tab.id == null || tab.id < 0 || !url || !WEB.test(url)) continue;
    const main = await stopped(url, 'main_frame');
    if (main) {
      audit({ kind: 'open_tab_blocked', frame: 'main', ...main });
      await tabs.update(tab.id, { url: blockUrl(url) });
      sent += 1;
      continue;
    }
    for (const frame of await frames.all(tab.id)) {
      if (frame.frameId === 0 || !WEB.test(frame.url ?? '')) continue;
      const sub = await stopped(frame.url, 'sub_frame');
      if (sub) {
        audit({ kind: 'open_tab_blocked', frame: 'sub', ...sub });
        await tabs.reload(tab.id);
        reloaded += 1;
        break;
      }
    }
  }
  return { tabs: all.length, sent, reloaded, ms: Date.now() - t0 };
}

/**
 * Without the engine nothing can be decided, so nothing can be sent to the block page: every web
 * tab meets the rules in force (the persisted dynamic rules, the bootstrap ruleset) once more. A
 * page that loaded before Chromium had the extension's rules in force — a navigation racing the
 * browser's start — cannot stay up that way. A tab with a navigation in flight is sent to that
 * address again rather than reloaded: a reload would cancel the navigation the user asked for
 * and reload the page it was leaving (a new tab's about:blank).
 * @returns {Promise<{tabs: number, sent: number, reloaded: number, ms: number}>} as recheckOpenTabs
 */
export async function reloadWebTabs() {
  const t0 = Date.now();
  const all = await tabs.query({});
  let sent = 0;
  let reloaded = 0;
  for (const tab of all) {
    if (tab.id == null || tab.id < 0) continue;
    if (WEB.test(tab.pendingUrl ?? '')) {
      await tabs.update(tab.id, { url: tab.pendingUrl });
      sent += 1;
    } else if (WEB.test(tab.url ?? '')) {
      await tabs.reload(tab.id);
      reloaded += 1;
    }
  }
  return { tabs: all.length, sent, reloaded, ms: Date.now() - t0 };
}
