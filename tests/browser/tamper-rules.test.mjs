// Finding 5 of issue 9: spellings of a blocked address that the engine classifies but the
// compiled declarativeNetRequest rules used to miss — a trailing dot on an exact host, percent-
// encoded path characters, the translate proxies. Each is sent as a main frame, a subframe, a
// fetch and an upload (fetch POST and form POST) from an allowed page; the blocked host must see
// zero HTTP requests and zero TCP/TLS connections (preconnects included) at the stand-in server.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openScenario } from './lib/harness.mjs';
import { ALLOWED_PAGE, sendFromAllowedPage, settle } from './lib/probes.mjs';

/** [what, URL, the host it reaches] — every URL is one the engine decides `block`. */
const CASES = [
  ['trailing dot on an exact host (=126.com)', 'https://126.com./', '126.com'],
  ['trailing dot on an exact upload bucket', 'https://paper-attachments.s3.amazonaws.com./upload', 'paper-attachments.s3.amazonaws.com'],
  ['percent-encoded path (%6D = m)', 'https://www.facebook.com/%6Dessages/t/1', 'www.facebook.com'],
  ['percent-encoded path (%69 = i)', 'https://x.com/%69/chat', 'x.com'],
  ['uppercase escape of an uppercase letter (%4D = M)', 'https://www.instagram.com/%44irect/inbox', 'www.instagram.com'],
  ['translate ?u= proxy', 'https://translate.google.com/translate?sl=auto&tl=en&u=https://web.telegram.org/', 'translate.google.com'],
  ['translate ?u= proxy, encoded', 'https://translate.google.com.hk/translate?u=https%3A%2F%2Fmail.google.com%2Fmail%2F', 'translate.google.com.hk'],
  ['translate.goog proxy of a subdomain (www.dropbox.com under dropbox.com)', 'https://www-dropbox-com.translate.goog/home', 'www-dropbox-com.translate.goog'],
  ['translate.goog proxy of an exact host', 'https://126-com.translate.goog/', '126-com.translate.goog'],
];

const blockedHosts = [...new Set(CASES.map(([, , host]) => host))];

let s;
let engineReady;
before(async () => {
  // Each blocked host (and its trailing-dot form) goes to the sentinel server.
  s = await openScenario('tamper-rules', {
    policy: null,
    host: false,
    sentinelHosts: blockedHosts.flatMap((h) => [h, `${h}.`]),
  });
  engineReady = await s.waitFor((st) => st.readyMs && st.prediction === 'off', 'the worker ready with prediction off');
});
after(async () => s?.close());

/** What reached any server for `host`: connections by SNI, requests by Host (dot-insensitive). */
function contact(host) {
  const same = (h) => (h ?? '').replace(/\.$/, '') === host;
  return {
    sentinelConnections: s.sentinel.connections.length,
    sentinelRequests: s.sentinel.requests.map((r) => `${r.method} ${r.host}${r.url}`),
    webConnections: s.web.connections.filter((c) => same(c.sni)).length,
    webRequests: s.web.requests.filter((r) => same(r.host)).map((r) => `${r.method} ${r.host}${r.url}`),
  };
}

for (const [what, url, host] of CASES) {
  test(`${what}: ${url} — main frame, subframe, fetch and uploads reach nothing`, async () => {
    assert.ok(engineReady);
    s.sentinel.reset();
    const start = s.web.requests.length;
    const seen = await sendFromAllowedPage(s, url, ['sub_frame', 'fetch', 'upload', 'form_post']);
    const main = await s.visit(url);
    seen.main_frame = main.url;
    await main.page.close();
    await settle();
    assert.deepEqual(contact(host), { sentinelConnections: 0, sentinelRequests: [], webConnections: 0, webRequests: [] },
      `nothing reached ${host}; the page saw ${JSON.stringify(seen)}`);
    assert.equal(seen.fetch.ok, false, `fetch is refused: ${seen.fetch.detail}`);
    assert.equal(seen.upload.ok, false, `upload is refused: ${seen.upload.detail}`);
    // The block page, at the extension's id or its dynamic URL (use_dynamic_url).
    assert.match(seen.main_frame, /^chrome-extension:\/\/[^/]+\/block\.html#/, 'main frame lands on the block page');
    assert.ok(s.web.requests.slice(start).some((r) => r.host === new URL(ALLOWED_PAGE).hostname), 'the allowed page itself was served');
  });
}
