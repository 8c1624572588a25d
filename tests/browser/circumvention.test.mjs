// Issue 12: the fourth category, circumvention — a web proxy and a remote-desktop web client are
// blocked under the embedded default, with zero contact, and each of the four categories shows its
// block page in English and in Traditional Chinese; circumvention's lead sentence says what such a
// site is for ("this site can be used to reach services that need approval").

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blockPageReady, openScenario } from './lib/harness.mjs';

/** One service per category; the proxy and the remote-desktop client are circumvention. */
const CASES = [
  { url: 'https://mail.google.com/mail/u/0/', host: 'mail.google.com', category: 'webmail' },
  { url: 'https://www.dropbox.com/home', host: 'www.dropbox.com', category: 'cloud_storage' },
  { url: 'https://web.whatsapp.com/', host: 'web.whatsapp.com', category: 'instant_messaging' },
  { url: 'https://www.croxyproxy.com/', host: 'www.croxyproxy.com', category: 'circumvention', service: 'CroxyProxy' },
  { url: 'https://remotedesktop.google.com/access', host: 'remotedesktop.google.com', category: 'circumvention', service: 'Chrome' },
];

const LANGUAGES = {
  'en-US': {
    heading: 'This site is blocked on this computer',
    categories: {
      webmail: 'Personal webmail',
      cloud_storage: 'Public cloud storage',
      instant_messaging: 'Web instant messaging',
      circumvention: 'Web proxies and remote access',
    },
    circumventionLead: /\(Web proxies and remote access\): this site can be used to reach services that need approval\.$/,
    ordinaryLead: / is a .* service\.$/,
  },
  'zh-TW': {
    heading: '此電腦不可使用這個網站',
    categories: {
      webmail: '個人網上郵件',
      cloud_storage: '公共雲端儲存',
      instant_messaging: '網頁版即時通訊',
      circumvention: '網頁代理及遙距存取',
    },
    circumventionLead: /（網頁代理及遙距存取）：此網站可用以接達須經批准才可使用的服務。$/,
    ordinaryLead: /屬於「.*」服務。$/,
  },
};

for (const [lang, want] of Object.entries(LANGUAGES)) {
  test(`${lang}: a proxy and a remote-desktop web client are blocked; the four categories' block pages`, async () => {
    const s = await openScenario(`circumvention-${lang}`, {
      policy: null,
      host: false,
      lang,
      sentinelHosts: CASES.map((c) => c.host),
    });
    try {
      await s.waitFor((st) => st.readyMs && st.prediction === 'off', 'the worker ready with prediction off');
      for (const c of CASES) {
        const { page, url } = await s.visit(c.url);
        assert.equal(url, s.blockUrl(c.url), `${c.host}: redirected to the block page`);
        assert.equal(await blockPageReady(page), 'ready');
        assert.match(await page.locator('html').getAttribute('lang'), lang === 'en-US' ? /^en\b/ : /^zh-TW$/);
        assert.equal(await page.locator('body').getAttribute('data-action'), 'block');
        assert.equal(await page.locator('#heading').textContent(), want.heading);
        assert.equal(await page.locator('#category').textContent(), want.categories[c.category]);
        if (c.service) assert.match(await page.locator('#service').textContent(), new RegExp(c.service));
        const lead = await page.locator('#lead').textContent();
        assert.match(lead, c.category === 'circumvention' ? want.circumventionLead : want.ordinaryLead, `${c.host}: ${lead}`);
        assert.equal(await page.locator('#reason-code').textContent(), 'blocked');
        await page.close();
      }
      assert.deepEqual(
        { connections: s.sentinel.connections.length, requests: s.sentinel.requests.map((r) => `${r.method} ${r.host}${r.url}`) },
        { connections: 0, requests: [] },
        'no blocked host saw a connection or a request',
      );
    } finally {
      await s.close();
    }
  });
}
