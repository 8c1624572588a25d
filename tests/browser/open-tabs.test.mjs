// Tamper finding 10: a tab opened while its service was allowed keeps working — page and
// WebSocket — after the category turns to block, or after a warn-mode "continue" ends. The rules
// only see new requests; the worker must re-check open tabs whenever the verdicts change.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blockPageReady, hostAvailable, openScenario, sleep } from './lib/harness.mjs';
import { tickingWebSocket } from './lib/websocket.mjs';

const WHATSAPP = 'https://web.whatsapp.com/';
const DROPBOX = 'https://www.dropbox.com/home';

if (!hostAvailable()) throw new Error('GATEHOUSE_HOST_BIN not built: these scenarios need the real native host');

async function waitForUrl(page, predicate, timeout) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if (predicate(page.url())) return Date.now();
    await sleep(50);
  }
  throw new Error(`timed out: tab still at ${page.url()}`);
}

test('policy turns a category to block: the open tab goes to the block page and its WebSocket stops', async () => {
  const monitor = { categories: { instant_messaging: { mode: 'monitor' } } };
  const s = await openScenario('open-tabs', { policy: monitor, host: true });
  try {
    await s.waitForEnforced((st) => st.policy?.source === 'managed' && st.host?.status === 'connected', 'monitor policy');
    const sockets = [];
    s.web.upgrades.set('web.whatsapp.com/ws', (req, socket) => sockets.push(tickingWebSocket(req, socket, { everyMs: 100 })));

    // The chat, open, with its WebSocket delivering messages.
    const { page, url } = await s.visit(WHATSAPP);
    assert.equal(url, WHATSAPP, 'monitor mode: the service loads');
    await page.evaluate(() => {
      window.ticks = 0;
      const ws = new WebSocket('wss://web.whatsapp.com/ws');
      ws.onmessage = () => { window.ticks += 1; };
    });
    await page.waitForFunction(() => window.ticks >= 3, null, { timeout: 10_000 });
    // An allowed page with the service in an iframe.
    const host = await s.visit('https://intranet.example/portal');
    await host.page.evaluate((src) => new Promise((resolve) => {
      const f = document.createElement('iframe');
      f.src = src;
      f.onload = resolve;
      document.body.append(f);
    }), WHATSAPP);
    assert.ok(host.page.frames().some((f) => f.url() === WHATSAPP), 'the iframe loaded');

    const before = await s.status();
    s.setPolicy({ categories: { instant_messaging: { mode: 'block' } } });
    const movedMs = await waitForUrl(page, (u) => u === s.blockUrl(WHATSAPP), 30_000);
    const st = await s.waitFor((x) => x.compiled?.atMs > before.compiled.atMs && x.tabs, 'recompiled and tabs re-checked');
    console.log(`rules recompiled → tab on the block page: ${movedMs - st.compiled.atMs} ms (re-check of ${st.tabs.tabs} tabs took ${st.tabs.ms} ms)`);
    assert.equal(await blockPageReady(page), 'ready');
    assert.equal(await page.locator('body').getAttribute('data-action'), 'block');

    // The WebSocket is closed: the server saw it end and sends into nothing any more.
    assert.equal(sockets.length, 1);
    await sleep(500);
    assert.ok(sockets[0].closedMs, 'the server saw the WebSocket close');
    assert.ok(sockets[0].closedMs - movedMs < 2000, `closed with the page (${sockets[0].closedMs - movedMs} ms)`);

    // The iframe's page was reloaded and the frame is blocked now; no new request reached the host.
    await sleep(1500);
    const requestsAfter = s.web.sawHost('web.whatsapp.com').requests.filter((r) => r.atMs > st.compiled.atMs);
    assert.ok(!host.page.frames().some((f) => f.url() === WHATSAPP), `frames now: ${host.page.frames().map((f) => f.url())}`);
    assert.deepEqual(requestsAfter.map((r) => r.url), [], 'nothing reached web.whatsapp.com after the switch');

    const events = await s.waitForAudit((e) => e.kind === 'open_tab_blocked', 'open_tab_blocked', 2);
    assert.deepEqual(events.map((e) => e.frame).sort(), ['main', 'sub']);
  } finally {
    await s.close();
  }
});

test('a warn-mode continue ends: the open tab goes back to the warn page', async () => {
  const s = await openScenario('open-tabs-continue', { policy: { categories: { cloud_storage: { mode: 'warn' } } }, host: true });
  try {
    await s.waitForEnforced((st) => st.policy?.source === 'managed' && st.host?.status === 'connected', 'warn policy');
    const { page } = await s.visit(DROPBOX);
    assert.equal(await blockPageReady(page), 'ready');
    await page.fill('#proceed-reason', 'Collect the signed contract from the supplier');
    await Promise.all([page.waitForURL(DROPBOX), page.click('#proceed-button')]);
    // The continue runs out: its record ends now rather than in proceedMinutes, and the
    // recompile scheduled for its end (the engine's nextChangeMs) fires now.
    const worker = await s.worker();
    const stored = await worker.evaluate(() => chrome.storage.session.get('gatehouse.proceeds'));
    const [proceed] = stored['gatehouse.proceeds'] ?? [];
    assert.equal(proceed?.service, 'dropbox', 'the continue is recorded for its service');
    const t0 = Date.now();
    await worker.evaluate((list) => chrome.storage.session.set({ 'gatehouse.proceeds': list }), [{ ...proceed, untilMs: t0 }]);
    await worker.evaluate(() => chrome.alarms.create('gatehouse.recompile', { when: Date.now() }));
    const movedMs = await waitForUrl(page, (u) => u === s.blockUrl(DROPBOX), 10_000);
    console.log(`continue ended → tab on the warn page: ${movedMs - t0} ms`);
    assert.equal(await blockPageReady(page), 'ready');
    assert.equal(await page.locator('body').getAttribute('data-action'), 'warn');
  } finally {
    await s.close();
  }
});
