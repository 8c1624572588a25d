// Requests of every kind the browser makes, sent to one URL from an allowed page: a frame, a
// fetch, an upload (fetch POST and a form POST into a frame) and a WebSocket. Shared by the rule
// tests (tamper-rules, differential), which then count what reached the stand-in servers.

import { sleep } from './harness.mjs';

/** The request kinds, with the declarativeNetRequest resource type each one has. */
export const KINDS = {
  main_frame: 'main_frame',
  sub_frame: 'sub_frame',
  fetch: 'xmlhttprequest',
  upload: 'xmlhttprequest',
  form_post: 'sub_frame',
  websocket: 'websocket',
};

/**
 * Sends one request of `kind` to `url` from `page` (an allowed page already loaded) and reports
 * what the page saw: `{ok, detail}`. `ok` means the request completed (a response, an open socket).
 * Main frames are navigated by the caller (`scenario.visit`).
 */
export async function sendFrom(page, kind, url) {
  return page.evaluate(async ({ kind, url }) => {
    const frameLoad = (frame) => new Promise((resolve) => {
      frame.addEventListener('load', () => resolve('load'), { once: true });
      setTimeout(() => resolve('timeout'), 3000);
    });
    switch (kind) {
      case 'sub_frame': {
        const f = document.createElement('iframe');
        f.src = url;
        document.body.append(f);
        // A blocked or redirected frame still fires load (error page or block page): the servers
        // decide, the page cannot read a cross-origin frame.
        return { ok: null, detail: await frameLoad(f) };
      }
      case 'fetch':
        try {
          const r = await fetch(url, { mode: 'no-cors', credentials: 'omit' });
          return { ok: true, detail: `status ${r.status} ${r.type}` };
        } catch (e) {
          return { ok: false, detail: String(e) };
        }
      case 'upload':
        try {
          const body = new Blob(['x'.repeat(64 * 1024)], { type: 'application/octet-stream' });
          const r = await fetch(url, { method: 'POST', body, mode: 'no-cors', credentials: 'omit' });
          return { ok: true, detail: `status ${r.status} ${r.type}` };
        } catch (e) {
          return { ok: false, detail: String(e) };
        }
      case 'form_post': {
        const name = `f${Math.random().toString(36).slice(2)}`;
        const f = document.createElement('iframe');
        f.name = name;
        document.body.append(f);
        const form = document.createElement('form');
        form.method = 'POST';
        form.enctype = 'multipart/form-data';
        form.action = url;
        form.target = name;
        const input = document.createElement('input');
        input.type = 'hidden';
        input.name = 'file';
        input.value = 'secret attachment';
        form.append(input);
        document.body.append(form);
        const loaded = frameLoad(f);
        form.submit();
        return { ok: null, detail: await loaded };
      }
      case 'websocket':
        return new Promise((resolve) => {
          let ws;
          try {
            ws = new WebSocket(url);
          } catch (e) {
            resolve({ ok: false, detail: String(e) });
            return;
          }
          ws.onopen = () => { ws.close(); resolve({ ok: true, detail: 'open' }); };
          ws.onerror = () => resolve({ ok: false, detail: 'error' });
          setTimeout(() => resolve({ ok: false, detail: 'timeout' }), 3000);
        });
      default:
        throw new Error(`unknown kind ${kind}`);
    }
  }, { kind, url });
}

/** `wss://` for an `https://` URL (and `ws://` for `http://`), for WebSocket requests. */
export function socketUrl(url) {
  return url.replace(/^http/, 'ws');
}

/** Waits for late connections (a frame's subresources, a socket retry) before counting. */
export async function settle(ms = 800) {
  await sleep(ms);
}

/** The allowed page the rule tests send from (any intranet host the stand-in serves). */
export const ALLOWED_PAGE = 'https://intranet.example/start';

/**
 * Opens the allowed page, sends each of `kinds` (sendFrom) to `url` from it, closes it, and
 * returns what the page saw per kind. Throws unless the allowed page itself loaded.
 */
export async function sendFromAllowedPage(s, url, kinds) {
  const { page, url: landed } = await s.visit(ALLOWED_PAGE);
  if (landed !== ALLOWED_PAGE) throw new Error(`the allowed page did not load: ${landed}`);
  const seen = {};
  for (const kind of kinds) seen[kind] = await sendFrom(page, kind, url);
  await page.close();
  return seen;
}
