// Tamper finding 11: a site used during the adaptation period (here: monitor mode) registers a
// service worker that answers from its cache. declarativeNetRequest never sees what a service
// worker answers, so after the switch to block a new visit rendered the cached app. The worker
// must remove the service workers and caches of blocked origins when their category becomes
// enforced.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blockPageReady, hostAvailable, openScenario, sleep } from './lib/harness.mjs';
import { stopWorker } from './lib/worker.mjs';

const APP = 'https://www.dropbox.com/app';

if (!hostAvailable()) throw new Error('GATEHOUSE_HOST_BIN not built: these scenarios need the real native host');

const SW = `
self.addEventListener('install', (e) => e.waitUntil(caches.open('v1')
  .then((c) => c.put('/app', new Response('<!doctype html><title>cached</title><h1 id="app">CACHED APP</h1>', { headers: { 'content-type': 'text/html' } })))
  .then(() => self.skipWaiting())));
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));
self.addEventListener('fetch', (e) => e.respondWith(caches.match(e.request).then((r) => r || fetch(e.request))));
`;

function serveApp(web, host) {
  web.routes.set(`${host}/app`, (req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end('<!doctype html><title>live</title><h1 id="app">LIVE APP</h1><script>navigator.serviceWorker.register("/sw.js")</script>');
  });
  web.routes.set(`${host}/sw.js`, (req, res) => {
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

const CASES = [
  {
    // A catalogue service, used before this version recorded anything (the record is removed):
    // found by the catalogue sweep.
    name: 'catalogue host, no record of its use',
    host: 'www.dropbox.com',
    policy: (mode) => ({ categories: { cloud_storage: { mode } } }),
    forget: true,
  },
  {
    // A host only the department's own policy rule names: found because it was seen loading.
    name: 'a policy rule\'s host, seen in use',
    host: 'webmail.isp.example',
    policy: (mode) => ({
      categories: { webmail: { mode } },
      rules: [{ category: 'webmail', service: 'isp_webmail', name: { en: 'ISP webmail' }, match: ['webmail.isp.example'] }],
    }),
    forget: false,
  },
];

for (const c of CASES) {
  test(`switch to block: the cached app of a service worker does not render, and the worker is gone (${c.name})`, async () => {
    const origin = `https://${c.host}`;
    const app = `${origin}/app`;
    const s = await openScenario('sitedata', { policy: c.policy('monitor'), host: true });
    try {
      await s.waitForEnforced((st) => st.policy?.source === 'managed' && st.host?.status === 'connected', 'monitor policy');
      serveApp(s.web, c.host);
      const { page, url } = await s.visit(app);
      assert.equal(url, app);
      assert.equal(await page.locator('#app').textContent(), 'LIVE APP');
      await page.evaluate(() => navigator.serviceWorker.ready);
      await page.reload();
      assert.equal(await page.locator('#app').textContent(), 'CACHED APP', 'the service worker answers from its cache');
      await page.close();
      assert.deepEqual(await registrations(s, `${origin}/`), [`${origin}/`]);
      if (c.forget) {
        // As if the site was used before Gatehouse kept a record: the record gone, and a worker
        // that has not read it yet.
        await (await s.worker()).evaluate(() => chrome.storage.local.remove('gatehouse.siteData'));
        await stopWorker(s);
      }

      const before = await s.status();
      const switchedMs = Date.now();
      s.setPolicy(c.policy('block'));
      await s.waitFor((x) => x.compiled?.atMs > before.compiled.atMs, 'recompiled', 30_000);
      await sleep(500);

      const again = await s.visit(app);
      const shown = again.url.startsWith('https://') ? await again.page.locator('#app').textContent().catch(() => null) : null;
      assert.equal(again.url, s.blockUrl(app), `a new visit ends on the block page, not in the cached app (it showed: ${shown})`);
      assert.equal(await blockPageReady(again.page), 'ready');
      assert.deepEqual(await registrations(s, `${origin}/`), [], 'the service worker registration is gone');
      const st = await s.status();
      console.log(`${c.name}: site data cleared for ${st.siteData.origins.length} origins in ${st.siteData.ms} ms`);
      assert.ok(st.siteData.ok, JSON.stringify(st.siteData));
      assert.ok(st.siteData.origins.includes(origin));

      const events = await s.waitForAudit((e) => e.kind === 'site_data_cleared' && e.atMs > switchedMs, 'site_data_cleared');
      assert.equal(events.length, 1);
      assert.equal(events[0].usedOrigins.includes(origin), !c.forget, JSON.stringify(events[0]));
    } finally {
      await s.close();
    }
  });
}
