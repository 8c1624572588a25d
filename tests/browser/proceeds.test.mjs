// Warn-mode "continue" opens exactly the service continued on, at its own specificity — never
// the host it lives on. Regression (issue 10, item 1): continuing on Google Chat, which Gmail
// serves under mail.google.com/chat, installed a host-wide allow for mail.google.com at priority
// 1000 over every resource type, so blocked Gmail loaded in frames, fetches and uploads.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blockPageReady, hostAvailable, openScenario, sleep } from './lib/harness.mjs';

const CHAT = 'https://mail.google.com/chat/u/0/';
const GMAIL = 'https://mail.google.com/mail/u/0/';

if (!hostAvailable()) throw new Error('GATEHOUSE_HOST_BIN not built: these scenarios need the real native host');

test('continuing on a warned service on a shared host does not open the blocked one', async () => {
  // Chat warns, webmail blocks (the default).
  const policy = { categories: { instant_messaging: { mode: 'warn' } }, warn: { proceedMinutes: 5 } };
  const s = await openScenario('proceed-shared-host', { policy, host: true });
  try {
    await s.waitForEnforced((st) => st.policy?.source === 'managed' && st.host?.status === 'connected', 'managed policy and host');
    const { page, url: landed } = await s.visit(CHAT);
    assert.equal(landed, s.blockUrl(CHAT), 'Chat is redirected to the warn page');
    assert.equal(await blockPageReady(page), 'ready');
    assert.equal(await page.locator('body').getAttribute('data-action'), 'warn');
    await page.fill('#proceed-reason', 'Coordinate the tender with the contractor');
    await Promise.all([page.waitForURL(CHAT), page.click('#proceed-button')]);
    const gmailRequests = () => s.web.requests.filter((r) => r.host === 'mail.google.com' && r.url.startsWith('/mail'));
    assert.ok(s.web.requests.some((r) => r.host === 'mail.google.com' && r.url.startsWith('/chat')), 'Chat loaded after continue');

    // From the Chat page: Gmail in an iframe, a fetch and an upload POST.
    await page.evaluate(async (gmail) => {
      const frame = document.createElement('iframe');
      frame.src = gmail;
      document.body.append(frame);
      await fetch(`${gmail}feed/atom`, { credentials: 'include' }).catch(() => {});
      const body = new FormData();
      body.append('file', new Blob(['secret'.repeat(100)]), 'report.pdf');
      await fetch('https://mail.google.com/mail/u/0/upload', { method: 'POST', body }).catch(() => {});
    }, GMAIL);
    await sleep(1500);
    assert.deepEqual(gmailRequests().map((r) => `${r.method} ${r.url}`), [], 'Gmail got no request at all');

    // A Gmail page load still lands on the block page, as blocked — not as "proceeded".
    const gmail = await s.visit(GMAIL);
    assert.equal(gmail.url, s.blockUrl(GMAIL));
    assert.equal(await blockPageReady(gmail.page), 'ready');
    assert.equal(await gmail.page.locator('body').getAttribute('data-action'), 'block');
    assert.deepEqual(gmailRequests().map((r) => `${r.method} ${r.url}`), []);

    // Chat itself stays open for the continue's lifetime.
    const again = await s.visit('https://mail.google.com/chat/u/0/#chat/space/x');
    assert.equal(again.error, null);
    assert.match(again.url, /^https:\/\/mail\.google\.com\/chat\//);
  } finally {
    await s.close();
  }
});
