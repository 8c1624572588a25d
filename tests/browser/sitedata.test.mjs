// Tamper finding 11: a site used during the adaptation period (here: monitor mode) registers a
// service worker that answers from its cache. declarativeNetRequest never sees what a service
// worker answers, so after the switch to block a new visit rendered the cached app. The worker
// must remove the service workers and caches of blocked origins when their category becomes
// enforced.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blockPageReady, hostAvailable, openScenario, sleep } from './lib/harness.mjs';

const APP = 'https://www.dropbox.com/app';

if (!hostAvailable()) throw new Error('GATEHOUSE_HOST_BIN not built: these scenarios need the real native host');

const SW = `
self.addEventListener('install', (e) => e.waitUntil(caches.open('v1')
  .then((c) => c.put('/app', new Response('<!doctype html><title>cached</title><h1 id="app">CACHED APP</h1>', { headers: { 'content-type': 'text/html' } })))
  .then(() => self.skipWaiting())));
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));
self.addEventListener('fetch', (e) => e.respondWith(caches.match(e.request).then((r) => r || fetch(e.request))));
`;

function serveApp(web) {
  web.routes.set('www.dropbox.com/app', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end('<!doctype html><title>live</title><h1 id="app">LIVE APP</h1><script>navigator.serviceWorker.register("/sw.js")</script>');
  });
  web.routes.set('www.dropbox.com/sw.js', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'no-store' });
    res.end(SW);
  });
}

/** Service worker registrations of `origin` that the browser still holds (DevTools protocol). */
async function registrations(s, origin) {
  const page = await s.context.newPage();
  const cdp = await s.context.newCDPSession(page);
  const found = new Map();
  cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: list }) => {
    for (const r of list) {
      if (r.isDeleted) found.delete(r.registrationId);
      else found.set(r.registrationId, r.scopeURL);
    }
  });
  await cdp.send('ServiceWorker.enable');
  await sleep(500);
  await cdp.detach();
  await page.close();
  return [...found.values()].filter((scope) => scope.startsWith(origin));
}

test('switch to block: the cached app of a service worker does not render, and the worker is gone', async () => {
  const s = await openScenario('sitedata', { policy: { categories: { cloud_storage: { mode: 'monitor' } } }, host: true });
  try {
    await s.waitForEnforced((st) => st.policy?.source === 'managed' && st.host?.status === 'connected', 'monitor policy');
    serveApp(s.web);
    const { page, url } = await s.visit(APP);
    assert.equal(url, APP);
    assert.equal(await page.locator('#app').textContent(), 'LIVE APP');
    await page.evaluate(() => navigator.serviceWorker.ready);
    await page.reload();
    assert.equal(await page.locator('#app').textContent(), 'CACHED APP', 'the service worker answers from its cache');
    await page.close();
    assert.deepEqual(await registrations(s, 'https://www.dropbox.com/'), ['https://www.dropbox.com/']);

    const before = await s.status();
    s.setPolicy({ categories: { cloud_storage: { mode: 'block' } } });
    await s.waitFor((x) => x.compiled?.atMs > before.compiled.atMs, 'recompiled', 30_000);
    await sleep(500);

    const again = await s.visit(APP);
    const shown = again.url.startsWith('https://') ? await again.page.locator('#app').textContent().catch(() => null) : null;
    assert.equal(again.url, s.blockUrl(APP), `a new visit ends on the block page, not in the cached app (it showed: ${shown})`);
    assert.equal(await blockPageReady(again.page), 'ready');
    assert.deepEqual(await registrations(s, 'https://www.dropbox.com/'), [], 'the service worker registration is gone');
    const st = await s.status();
    console.log(`site data cleared for ${st.siteData.origins.length} origins in ${st.siteData.ms} ms`);
    assert.ok(st.siteData.ok, JSON.stringify(st.siteData));
    assert.ok(st.siteData.origins.includes('https://www.dropbox.com'));

    const events = await s.waitForAudit((e) => e.kind === 'site_data_cleared', 'site_data_cleared');
    assert.ok(events.some((e) => e.usedOrigins?.includes('https://www.dropbox.com')), JSON.stringify(events));
  } finally {
    await s.close();
  }
});
