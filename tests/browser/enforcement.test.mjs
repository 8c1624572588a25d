// Enforcement with the embedded default policy (no managed policy): every category blocked, the
// right block page, and zero contact with the blocked service.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { blockPageReady, openScenario } from './lib/harness.mjs';

/** One catalogue service per category, with the names the block page must show. */
const CASES = [
  { url: 'https://mail.google.com/mail/u/0/#inbox', host: 'mail.google.com', service: 'Gmail', category: 'Personal webmail' },
  { url: 'https://www.dropbox.com/home', host: 'www.dropbox.com', service: 'Dropbox', category: 'Public cloud storage' },
  { url: 'https://web.whatsapp.com/', host: 'web.whatsapp.com', service: 'WhatsApp', category: 'Web instant messaging' },
];

let s;
before(async () => {
  s = await openScenario('enforcement', { policy: null, host: false, sentinelHosts: CASES.map((c) => c.host) });
  // No baseline policy here: the extension's own "network prediction off" must be in effect
  // first (it cannot be before the worker runs; see forceinstall.test.mjs).
  await s.waitFor((st) => st.readyMs && st.prediction === 'off', 'the worker ready with prediction off');
});
after(async () => s?.close());

test('each category is blocked with its own block page', async () => {
  for (const c of CASES) {
    const { page, url } = await s.visit(c.url);
    assert.equal(url, s.blockUrl(c.url), `${c.host}: redirected to the block page with the URL in the fragment`);
    assert.equal(await blockPageReady(page), 'ready');
    assert.equal(await page.locator('body').getAttribute('data-action'), 'block');
    assert.equal(await page.locator('#address').textContent(), c.url);
    assert.match(await page.locator('#service').textContent(), new RegExp(c.service));
    assert.equal(await page.locator('#category').textContent(), c.category);
    assert.equal(await page.locator('#reason-code').textContent(), 'blocked');
    assert.ok(await page.locator('#request-form').isVisible(), 'the approval request form is offered');
    assert.ok(!(await page.locator('#proceed').isVisible()), 'no "continue" in block mode');
    await page.close();
  }
});

test('a blocked server sees zero connections and zero requests', async () => {
  // Typed navigation, a link click, a redirect from an allowed site, a script fetch and an image
  // from an allowed page: none may reach the blocked host, not even a TLS handshake.
  const link = await s.visit('https://intranet.example/start');
  await link.page.evaluate(() => {
    const a = document.createElement('a');
    a.href = 'https://mail.google.com/mail/';
    a.id = 'go';
    a.textContent = 'mail';
    document.body.append(a);
    const img = new Image();
    img.src = 'https://mail.google.com/favicon.ico';
    document.body.append(img);
    fetch('https://web.whatsapp.com/ws', { mode: 'no-cors' }).catch(() => {});
  });
  await Promise.all([link.page.waitForURL(/block\.html/), link.page.click('#go')]);
  assert.equal(await blockPageReady(link.page), 'ready');
  const again = await s.visit('https://www.dropbox.com/s/abc/file.pdf');
  assert.match(again.url, /block\.html#https:\/\/www\.dropbox\.com\/s\/abc\/file\.pdf$/);
  await new Promise((r) => setTimeout(r, 1000));
  assert.deepEqual(s.sentinel.connections, [], 'no TCP connection reached the blocked hosts');
  assert.deepEqual(s.sentinel.requests, [], 'no HTTP request reached the blocked hosts');
  for (const c of CASES) {
    const seen = s.web.sawHost(c.host);
    assert.deepEqual([seen.connections, seen.requests], [[], []], `${c.host} never reached the general stand-in`);
  }
  assert.ok(s.web.requests.some((r) => r.host === 'intranet.example'), 'the allowed page itself loaded');
});

test('uncategorised sites load', async () => {
  const { page, url, error } = await s.visit('https://www.info.gov.hk/gia/general/today.htm');
  assert.equal(error, null);
  assert.equal(url, 'https://www.info.gov.hk/gia/general/today.htm');
  assert.match(await page.locator('#standin').textContent(), /www\.info\.gov\.hk/);
  // Google's own non-mail hosts are not webmail.
  const search = await s.visit('https://www.google.com/search?q=gatehouse');
  assert.equal(search.url, 'https://www.google.com/search?q=gatehouse');
});

test('a single-page app moving to a blocked path in place is sent to the block page', async () => {
  // www.facebook.com is not categorised, www.facebook.com/messages is: pushState makes no request
  // the rules could see, so the service worker's history listener must catch it.
  const { page, url } = await s.visit('https://www.facebook.com/');
  assert.equal(url, 'https://www.facebook.com/');
  await Promise.all([
    page.waitForURL(/block\.html/, { timeout: 10_000 }),
    // The worker may send the tab away before evaluate returns: that is the point.
    page.evaluate(() => history.pushState({}, '', '/messages/t/100'))
      .catch((err) => { if (!/Execution context was destroyed/.test(err.message)) throw err; }),
  ]);
  assert.equal(page.url(), s.blockUrl('https://www.facebook.com/messages/t/100'));
  assert.equal(await blockPageReady(page), 'ready');
  assert.equal(await page.locator('#reason-code').textContent(), 'blocked');
});
