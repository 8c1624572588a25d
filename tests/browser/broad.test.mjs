// Issue 12, the broad tier: a host of the long tail (wasm-core/catalogue/broad.txt), enforced by a
// static ruleset of its category (rules/broad_<category>.json, plain requestDomains), is blocked
// with its block page and zero contact; with `categories.<id>.broad: false` the same host loads,
// while the category's curated services stay blocked.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blockPageReady, openScenario } from './lib/harness.mjs';

/** Broad-tier hosts (none in the curated catalogue), one per category, and a curated one. */
const BROAD = [
  { url: 'https://www.yopmail.com/en/', host: 'www.yopmail.com', service: 'yopmail.com', category: 'Personal webmail' },
  { url: 'https://nitroflare.com/', host: 'nitroflare.com', service: 'nitroflare.com', category: 'Public cloud storage' },
];
const CURATED = { url: 'https://mail.google.com/mail/u/0/', host: 'mail.google.com' };

test('a broad-tier host is blocked by its category ruleset, with its block page and zero contact', async () => {
  const s = await openScenario('broad-on', { policy: null, host: false, sentinelHosts: BROAD.map((c) => c.host) });
  try {
    await s.waitFor((st) => st.readyMs && st.prediction === 'off' && st.broadTier?.loaded, 'the worker ready with the broad tier loaded');
    await s.waitFor(
      (st) => st.compiled?.install?.broadEnabled?.includes('broad_webmail') && st.compiled.install.broadEnabled.includes('broad_cloud_storage'),
      'the broad rulesets switched on',
    );
    for (const c of BROAD) {
      const { page, url } = await s.visit(c.url);
      assert.equal(url, s.blockUrl(c.url), `${c.host}: redirected to the block page`);
      assert.equal(await blockPageReady(page), 'ready');
      assert.equal(await page.locator('body').getAttribute('data-action'), 'block');
      assert.match(await page.locator('#service').textContent(), new RegExp(c.service.replace('.', '\\.')));
      assert.equal(await page.locator('#category').textContent(), c.category);
      assert.equal(await page.locator('#reason-code').textContent(), 'blocked');
      await page.close();
    }
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(
      { connections: s.sentinel.connections.length, requests: s.sentinel.requests.map((r) => `${r.method} ${r.host}${r.url}`) },
      { connections: 0, requests: [] },
      'no broad-tier host saw a connection or a request',
    );
  } finally {
    await s.close();
  }
});

test('with webmail.broad false the broad webmail host loads; curated webmail and broad storage stay blocked', async () => {
  const s = await openScenario('broad-off', { policy: { categories: { webmail: { broad: false } } }, host: false });
  try {
    await s.waitFor(
      (st) => st.readyMs && st.compiled?.install?.broadEnabled && !st.compiled.install.broadEnabled.includes('broad_webmail')
        && st.compiled.install.broadEnabled.includes('broad_cloud_storage'),
      'broad_webmail off, broad_cloud_storage on',
    );
    const open = await s.visit(BROAD[0].url);
    assert.equal(open.error, null);
    assert.equal(open.url, BROAD[0].url, 'the broad webmail host loads');
    assert.match(await open.page.locator('#standin').textContent(), /www\.yopmail\.com/);
    const curated = await s.visit(CURATED.url);
    assert.equal(curated.url, s.blockUrl(CURATED.url), 'curated webmail is still blocked');
    const storage = await s.visit(BROAD[1].url);
    assert.equal(storage.url, s.blockUrl(BROAD[1].url), 'the other categories keep their broad tier');
  } finally {
    await s.close();
  }
});
