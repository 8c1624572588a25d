// The block and status pages: languages (screenshots kept in artifacts/), accessibility
// (axe-core, WCAG 2.1 AA), department texts, and the approval request routed as policy says.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { artifactPath, blockPageReady, openScenario } from './lib/harness.mjs';

const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const GMAIL = 'https://mail.google.com/mail/u/0/#inbox';
const DROPBOX = 'https://www.dropbox.com/home';

const DEPARTMENT = {
  blockPage: {
    department: { en: 'Example Bureau', zh_TW: '示例局', zh_CN: '示例局' },
    contact: 'IT Help Desk, ext. 2345',
    message: { en: 'Use the department mail service for official work.', zh_TW: '公務請使用部門郵件服務。' },
  },
};

/** axe-core run inside the page (evaluated through DevTools, so the page's CSP does not apply). */
async function axe(page) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
  return result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join('; ')})`);
}

async function shot(page, name) {
  await page.screenshot({ path: artifactPath(name), fullPage: true });
}

test('block page in English: department texts, screenshot, no axe violations', async () => {
  const s = await openScenario('page-en', { policy: { ...DEPARTMENT, categories: { cloud_storage: { mode: 'warn' } } }, host: true, lang: 'en-US' });
  try {
    await s.waitFor((st) => st.readyMs && st.policy?.source === 'managed', 'managed policy');
    const { page } = await s.visit(GMAIL);
    assert.equal(await blockPageReady(page), 'ready');
    assert.match(await page.locator('html').getAttribute('lang'), /^en\b/);
    assert.equal(await page.locator('#heading').textContent(), 'This site is blocked on this computer');
    assert.equal(await page.locator('#department').textContent(), '· Example Bureau');
    assert.equal(await page.locator('#message').textContent(), 'Use the department mail service for official work.');
    assert.equal(await page.locator('#contact').textContent(), 'IT Help Desk, ext. 2345');
    assert.match(await page.locator('#user').textContent(), /\S/);
    await shot(page, 'block-page-en.png');
    assert.deepEqual(await axe(page), [], 'block page');

    const warn = await s.visit(DROPBOX);
    assert.equal(await blockPageReady(warn.page), 'ready');
    await shot(warn.page, 'warn-page-en.png');
    assert.deepEqual(await axe(warn.page), [], 'warn page');

    const status = await s.context.newPage();
    await status.goto(s.extensionUrl('status.html'));
    await status.waitForSelector('body[data-state="ready"]');
    await shot(status, 'status-page-en.png');
    assert.deepEqual(await axe(status), [], 'status page');
    const popup = await s.context.newPage();
    await popup.setViewportSize({ width: 420, height: 600 });
    await popup.goto(s.extensionUrl('status.html?view=popup'));
    await popup.waitForSelector('body[data-state="ready"]');
    assert.deepEqual(await axe(popup), [], 'status popup');
  } finally {
    await s.close();
  }
});

test('block page in Traditional Chinese: screenshot, no axe violations', async () => {
  const s = await openScenario('page-zh-tw', { policy: DEPARTMENT, host: true, lang: 'zh-TW' });
  try {
    await s.waitFor((st) => st.readyMs && st.policy?.source === 'managed', 'managed policy');
    const { page } = await s.visit(GMAIL);
    assert.equal(await blockPageReady(page), 'ready');
    assert.equal(await page.locator('html').getAttribute('lang'), 'zh-TW');
    assert.equal(await page.locator('#heading').textContent(), '此電腦不可使用這個網站');
    assert.equal(await page.locator('#category').textContent(), '個人網上郵件');
    assert.equal(await page.locator('#department').textContent(), '· 示例局');
    assert.equal(await page.locator('#message').textContent(), '公務請使用部門郵件服務。');
    await shot(page, 'block-page-zh_TW.png');
    assert.deepEqual(await axe(page), []);
    const status = await s.context.newPage();
    await status.goto(s.extensionUrl('status.html'));
    await status.waitForSelector('body[data-state="ready"]');
    assert.equal(await status.locator('h1').textContent(), 'Gatehouse 狀態');
    await shot(status, 'status-page-zh_TW.png');
    assert.deepEqual(await axe(status), []);
  } finally {
    await s.close();
  }
});

async function fillRequest(page, days = '30') {
  await page.fill('#justification', 'Receive site photos from the contractor for the drainage project');
  await page.fill('#days', days);
  await page.click('#request-button');
}

test('approval request: POST to the intranet, with the days capped by policy', async () => {
  const policy = { requests: { url: 'https://requests.intranet.example/gatehouse', maxDays: 90 } };
  const s = await openScenario('request-post', { policy, host: true });
  try {
    await s.waitFor((st) => st.readyMs && st.policy?.source === 'managed' && st.host?.status === 'connected', 'managed policy');
    const { page } = await s.visit(DROPBOX);
    assert.equal(await blockPageReady(page), 'ready');
    assert.equal(await page.locator('#days').getAttribute('max'), '90');
    await fillRequest(page, '120');
    assert.equal(await page.locator('#days').getAttribute('aria-invalid'), 'true');
    assert.equal(s.web.requests.filter((r) => r.host === 'requests.intranet.example').length, 0, 'nothing sent over the cap');
    await fillRequest(page, '60');
    await page.waitForSelector('#request-result:not([hidden])');
    const posts = s.web.requests.filter((r) => r.method === 'POST' && r.host === 'requests.intranet.example');
    assert.equal(posts.length, 1);
    const record = JSON.parse(posts[0].body);
    assert.equal(posts[0].headers['content-type'], 'application/json');
    assert.deepEqual(Object.keys(record).sort(), ['category', 'createdMs', 'days', 'justification', 'machine', 'origin', 'principal', 'requestId', 'service', 'user']);
    assert.equal(record.service, 'dropbox');
    assert.equal(record.category, 'cloud_storage');
    assert.equal(record.origin, 'https://www.dropbox.com');
    assert.equal(record.days, 60);
    assert.ok(record.user, 'the host identity is in the request');
    assert.match(await page.locator('#request-outcome').textContent(), new RegExp(record.requestId));
    assert.ok(!(await page.locator('#request-file').isVisible()), 'no file needed once the intranet took it');
  } finally {
    await s.close();
  }
});

test('approval request: prefilled mail, or a request file to download', async () => {
  const policy = { requests: { mail: 'it-approvals@bureau.example', file: true } };
  const s = await openScenario('request-mail-file', { policy, host: true });
  try {
    await s.waitFor((st) => st.readyMs && st.policy?.source === 'managed', 'managed policy');
    const { page } = await s.visit(GMAIL);
    assert.equal(await blockPageReady(page), 'ready');
    await fillRequest(page);
    await page.waitForSelector('#request-result:not([hidden])');
    const href = await page.locator('#request-mail').getAttribute('href');
    const mail = new URL(href);
    assert.equal(mail.protocol, 'mailto:');
    assert.equal(mail.pathname, 'it-approvals@bureau.example');
    const subject = new URLSearchParams(mail.search).get('subject');
    assert.match(subject, /^Gatehouse approval request: Gmail \(/);
    const body = new URLSearchParams(mail.search).get('body');
    const record = JSON.parse(body.split('--- gatehouse request ---\n')[1]);
    assert.equal(record.service, 'gmail');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#request-download')]);
    assert.equal(download.suggestedFilename(), `gatehouse-request-${record.requestId}.json`);
    const saved = JSON.parse(fs.readFileSync(await download.path(), 'utf8'));
    assert.deepEqual(saved, record);
  } finally {
    await s.close();
  }
});

test('a Hong Kong Chinese browser (zh-HK) gets the Traditional Chinese pages', async () => {
  // Chromium has no zh_HK extension locale of ours; it must fall back to zh_TW, not English.
  const s = await openScenario('page-zh-hk', { policy: null, host: false, lang: 'zh-HK' });
  try {
    const { page } = await s.visit(GMAIL);
    assert.equal(await blockPageReady(page), 'ready');
    assert.equal(await page.evaluate(() => chrome.i18n.getUILanguage()), 'zh-HK');
    assert.equal(await page.locator('#heading').textContent(), '此電腦不可使用這個網站');
    assert.equal(await page.locator('#category').textContent(), '個人網上郵件');
  } finally {
    await s.close();
  }
});
