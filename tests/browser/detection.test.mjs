// Tamper finding 8, the extension's half: block.html and its files were web-accessible to every
// site at the extension's fixed id, so any page could tell a Gatehouse desktop by loading
// chrome-extension://<id>/block.html. With `use_dynamic_url` they are reachable only at a
// per-session URL — while the rules still redirect blocked navigations and frames to the block
// page. Also: network facts are re-read every 30 s (Chrome's shortest alarm), not every 5 minutes.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { EXTENSION_ID, blockPageReady, openScenario, sleep } from './lib/harness.mjs';

const GMAIL = 'https://mail.google.com/mail/u/0/';

let s;
before(async () => {
  s = await openScenario('detection', { policy: null, host: false, sentinelHosts: ['mail.google.com'] });
  await s.waitFor((st) => st.readyMs && st.compiled?.install?.ok && st.prediction === 'off', 'rules installed');
});
after(async () => s?.close());

test('a web page cannot load the extension\'s files at its fixed id', async () => {
  const { page } = await s.visit('https://intranet.example/');
  const base = `chrome-extension://${EXTENSION_ID}/`;
  const probes = await page.evaluate(async (root) => {
    const out = {};
    try {
      const r = await fetch(`${root}block.html`);
      out.fetch = `status ${r.status}`;
    } catch {
      out.fetch = 'failed';
    }
    const load = (el) => new Promise((resolve) => {
      el.onload = () => resolve('loaded');
      el.onerror = () => resolve('failed');
      setTimeout(() => resolve('timeout'), 3000);
      document.head.append(el);
    });
    const css = document.createElement('link');
    css.rel = 'stylesheet';
    css.href = `${root}block.css`;
    out.stylesheet = await load(css);
    const script = document.createElement('script');
    script.type = 'module';
    script.src = `${root}js/dom.js`;
    out.script = await load(script);
    return out;
  }, base);
  assert.deepEqual(probes, { fetch: 'failed', stylesheet: 'failed', script: 'failed' }, 'nothing of the extension answers a web page');
});

test('with dynamic URLs, the rules still send a blocked main frame and subframe to the block page', async () => {
  const { page, url } = await s.visit(GMAIL);
  assert.equal(url, s.blockUrl(GMAIL));
  assert.equal(await blockPageReady(page), 'ready');
  assert.equal(await page.locator('#reason-code').textContent(), 'blocked');

  const host = await s.visit('https://intranet.example/frame');
  await host.page.evaluate((src) => new Promise((resolve) => {
    const f = document.createElement('iframe');
    f.src = src;
    f.onload = resolve;
    setTimeout(resolve, 5000);
    document.body.append(f);
  }), GMAIL);
  const frame = host.page.frames().find((f) => f !== host.page.mainFrame());
  console.log(`blocked subframe ends at: ${frame?.url()}`);
  assert.ok(frame && !frame.url().startsWith('https://mail.google.com'), `frame: ${frame?.url()}`);
  assert.deepEqual(s.sentinel.requests, [], 'the blocked host saw no request');
});

test('network facts are re-read every 30 seconds, and at once when the network changes', async () => {
  const worker = await s.worker();
  const alarm = await worker.evaluate(() => chrome.alarms.get('gatehouse.network'));
  assert.equal(alarm?.periodInMinutes, 0.5);
  // Off the network and back (DevTools network emulation reaches the worker: navigator.onLine).
  await s.context.setOffline(true);
  await sleep(300);
  assert.equal(await worker.evaluate(() => navigator.onLine), false);
  await s.context.setOffline(false);
  const onlineMs = Date.now();
  const st = await s.waitFor((x) => x.networkEvent?.atMs > onlineMs, 'a re-read after the network came back', 10_000);
  console.log(`network back → facts asked for in ${st.networkEvent.atMs - onlineMs} ms (${st.networkEvent.reason})`);
  assert.ok(st.networkEvent.atMs - onlineMs < 5000);
});
