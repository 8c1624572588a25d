// Managed policy, delivered the real way (/etc/chromium/policies/managed, 3rdparty extension
// policy), with the real native host registered for the profile. One browser per scenario.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blockPageReady, hostAvailable, openScenario, sleep } from './lib/harness.mjs';

const GMAIL = 'https://mail.google.com/mail/u/0/';
const DROPBOX = 'https://www.dropbox.com/home';
const OUTLOOK = 'https://outlook.live.com/mail/0/';

if (!hostAvailable()) throw new Error('GATEHOUSE_HOST_BIN not built: these scenarios need the real native host');

/** Opens a scenario and waits until the worker enforces the managed policy with the host connected. */
async function withPolicy(name, policy, body, extra = {}) {
  const s = await openScenario(name, { policy, host: true, ...extra });
  try {
    await s.waitForEnforced((st) => st.policy?.source === 'managed' && st.host?.status === 'connected', 'managed policy and host');
    await body(s);
  } finally {
    await s.close();
  }
}

async function assertBlocked(s, url, action = 'block') {
  const { page, url: landed } = await s.visit(url);
  assert.equal(landed, s.blockUrl(url), `${url} is redirected to the block page`);
  assert.equal(await blockPageReady(page), 'ready');
  assert.equal(await page.locator('body').getAttribute('data-action'), action);
  return page;
}

async function assertLoads(s, url) {
  const { page, url: landed, error } = await s.visit(url);
  assert.equal(error, null, `${url} loads`);
  assert.equal(landed, url);
  const host = new URL(url).hostname;
  assert.ok(s.web.requests.some((r) => r.host === host), `the stand-in for ${host} served it`);
  return page;
}

test('allowlisted services load, other services stay blocked', async () => {
  await withPolicy('allowlist', { allowlist: ['mail.google.com', 'service:dropbox'] }, async (s) => {
    await assertLoads(s, GMAIL);
    await assertLoads(s, DROPBOX);
    await assertBlocked(s, OUTLOOK);
  });
});

test('warn mode: continue needs a reason, is logged, and opens the site', async () => {
  const policy = { categories: { cloud_storage: { mode: 'warn' } }, warn: { proceedMinutes: 5 } };
  await withPolicy('warn', policy, async (s) => {
    const page = await assertBlocked(s, DROPBOX, 'warn');
    assert.ok(await page.locator('#proceed-form').isVisible());
    assert.match(await page.locator('#proceed-hint').textContent(), /5 minutes/);
    // Without a reason nothing happens.
    await page.click('#proceed-button');
    await sleep(300);
    assert.match(page.url(), /block\.html/);
    assert.equal(await page.locator('#proceed-reason').getAttribute('aria-invalid'), 'true');
    assert.equal(s.web.sawHost('www.dropbox.com').requests.length, 0);
    // With a reason, the site opens.
    await page.fill('#proceed-reason', 'Download the tender documents from the contractor');
    await Promise.all([page.waitForURL(DROPBOX), page.click('#proceed-button')]);
    assert.ok(s.web.sawHost('www.dropbox.com').requests.length > 0, 'the site loaded after continue');
    // The continue lasts: a second visit loads directly; other categories stay blocked.
    await assertLoads(s, 'https://www.dropbox.com/s/xyz/report.pdf');
    await assertBlocked(s, GMAIL);
    // The continue is engine input: compiled into the dynamic rules (Dropbox's own patterns no
    // longer enforced), never a session rule or a host-wide allow (proceeds.test.mjs).
    const worker = await s.worker();
    assert.deepEqual(await worker.evaluate(() => chrome.declarativeNetRequest.getSessionRules()), [], 'no session rule');
    const dynamic = await worker.evaluate(() => chrome.declarativeNetRequest.getDynamicRules());
    assert.ok(!dynamic.some((r) => r.action.type === 'allow' && r.priority >= 1000), 'no host-wide allow');
    await sleep(500);
    const proceeded = s.auditEvents().filter((e) => e.kind === 'proceeded');
    assert.equal(proceeded.length, 1, 'the continue is in the audit log');
    assert.equal(proceeded[0].justification, 'Download the tender documents from the contractor');
    assert.equal(proceeded[0].service, 'dropbox');
    assert.equal(proceeded[0].origin, 'https://www.dropbox.com');
  });
});

test('monitor mode loads and is logged (origin only)', async () => {
  await withPolicy('monitor', { categories: { webmail: { mode: 'monitor' } } }, async (s) => {
    await assertLoads(s, GMAIL);
    await assertBlocked(s, DROPBOX);
    await sleep(500);
    const loaded = s.auditEvents().filter((e) => e.kind === 'loaded' && e.reason === 'monitored');
    assert.equal(loaded.length, 1, JSON.stringify(s.auditEvents()));
    assert.equal(loaded[0].origin, 'https://mail.google.com');
    assert.equal(loaded[0].url, undefined, 'no full URL without audit.fullUrl');
    assert.equal(loaded[0].service, 'gmail');
    assert.ok(loaded[0].user, 'the host stamped the user');
    const blocked = s.auditEvents().filter((e) => e.kind === 'blocked');
    assert.ok(blocked.some((e) => e.service === 'dropbox'), 'the blocked attempt is logged too');
  });
});

test('a machine out of scope loads everything', async () => {
  // This machine is not domain-joined and has no address in 10.99.0.0/16: off the internal network.
  // And audit.fullUrl: the loads are logged with their full URLs.
  const policy = { scope: { network: { cidrs: ['10.99.0.0/16'] } }, audit: { fullUrl: true } };
  await withPolicy('out-of-scope', policy, async (s) => {
    await s.waitFor((st) => st.scope?.inScope === false, 'out of scope');
    await assertLoads(s, GMAIL);
    await assertLoads(s, DROPBOX);
    await sleep(500);
    const loaded = s.auditEvents().filter((e) => e.kind === 'loaded' && e.reason === 'out_of_scope');
    assert.deepEqual(loaded.map((e) => e.url).sort(), [GMAIL, DROPBOX].sort());
    const status = await s.context.newPage();
    await status.goto(s.extensionUrl('status.html'));
    await status.waitForSelector('body[data-state="ready"]');
    assert.equal(await status.locator('#scope').getAttribute('data-in-scope'), 'false');
  });
});

test('a policy change takes effect without a restart', async () => {
  await withPolicy('policy-change', { categories: { webmail: { mode: 'block' } } }, async (s) => {
    await assertBlocked(s, GMAIL);
    s.setPolicy({ categories: { webmail: { mode: 'monitor' } } });
    await s.waitForEnforced((st) => st.policy?.info?.categories?.webmail?.mode === 'monitor', 'webmail in monitor mode', 30_000);
    await assertLoads(s, GMAIL);
    s.setPolicy({ categories: { webmail: { mode: 'block' } } });
    await s.waitForEnforced((st) => st.policy?.info?.categories?.webmail?.mode === 'block', 'webmail blocked again', 30_000);
    await assertBlocked(s, GMAIL);
  });
});

test('a malformed managed policy still blocks and its warnings are shown', async () => {
  const policy = {
    categories: { webmail: { mode: 'monitor' } },
    allowlist: ['a.*.b', 'service:nope', 'mail.google.com:8080'],
    rules: [{ category: 'nope', match: ['x.example'] }],
  };
  await withPolicy('malformed', policy, async (s) => {
    const st = await s.status();
    const paths = st.policy.warnings.map((w) => w.path);
    assert.ok(paths.includes('$.allowlist[0]') && paths.includes('$.rules[0].category'), JSON.stringify(paths));
    await assertBlocked(s, DROPBOX);
    await assertBlocked(s, 'https://web.whatsapp.com/');
    const page = await s.context.newPage();
    await page.goto(s.extensionUrl('status.html'));
    await page.waitForSelector('body[data-state="ready"]');
    assert.equal(Number(await page.locator('#policy-warnings').getAttribute('data-count')), st.policy.warnings.length);
    assert.match(await page.locator('#policy-warnings').textContent(), /\$\.allowlist\[0\]/);

    // A policy file that is not even JSON: Chromium drops it, the extension falls back to the
    // cached policy — and never to "no policy, allow".
    const fs = await import('node:fs');
    const path = await import('node:path');
    fs.writeFileSync(path.join(s.dirs.etc, 'policies', 'managed', 'gatehouse-test.json'), '{"3rdparty": {"extensions": {');
    await sleep(7000);
    await assertBlocked(s, DROPBOX);
  });
});
