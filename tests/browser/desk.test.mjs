// The real approval desk (approval-service/, `gatehouse-approval serve` on SQLite) with the real
// extension and native host — no stand-in desk (approvals.test.mjs keeps those, for the answers
// a real desk is not asked to give on cue). Approvers sign in through a reverse proxy
// (auth.mode = "proxy"); the test plays it by sending X-Remote-User and the proxy secret from an
// approver's own browser. Desktops reach the desk as https://desk.corp.example through a TLS front
// (lib/desk.mjs).
//
// 1. The approvers' pages, English and Traditional Chinese: axe (WCAG 2.1 AA) and screenshots.
// 2. End to end: blocked → asked on the block page → in bob's queue → approved for a day → the
//    waiting tab opens the site by itself → revoked at the desk → the signed revocation list
//    closes it again; a signed-in non-approver gets 403.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { makeCertificate } from './lib/standin.mjs';
import { artifactPath, blockPageReady, hostAvailable, openScenario } from './lib/harness.mjs';
import { approvalAvailable, approvalBin, approverBrowser, joinedIdentityRoot, startDesk } from './lib/desk.mjs';

const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const DESK = 'https://desk.corp.example';
const GMAIL = 'https://mail.google.com/mail/u/0/';
const BOB = 'bob@CORP.EXAMPLE';

if (!approvalAvailable()) throw new Error(`no gatehouse-approval at ${approvalBin} (cargo build -p gatehouse-approval, or set GATEHOUSE_APPROVAL_BIN)`);
if (!hostAvailable()) throw new Error('GATEHOUSE_HOST_BIN not built: these scenarios need the real native host');

/** axe-core in the page, WCAG 2.1 A and AA (as pages.test.mjs runs it). */
async function axe(page) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
  return result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join('; ')})`);
}

/** What the block page posts (extension/background.js `block.request`), for seeding a desk. */
function record(service, category, who, justification, days) {
  return {
    requestId: crypto.randomUUID(),
    user: who.split('@')[0],
    principal: who,
    machine: 'WS01',
    service,
    category,
    origin: null,
    justification,
    days,
    createdMs: Date.now(),
  };
}

async function post(desk, body) {
  const response = await fetch(`${desk.url}/api/requests`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const answer = await response.json();
  assert.equal(response.status, 201, JSON.stringify(answer));
  return answer;
}

/** The queue row that shows `justification`. */
const row = (page, justification) => page.locator('tbody tr', { hasText: justification });

test('the approvers\' pages in English and Traditional Chinese: queue, approvals in force, history, overview — axe-clean, screenshots', async (t) => {
  const desk = await startDesk({ publicUrl: DESK, approvers: { all: [BOB] } });
  let approvers;
  try {
    t.diagnostic(`desk: init + serve + healthy in ${desk.readyMs} ms`);
    // Something on every page: one request approved, one denied, two waiting (one in Chinese).
    const seeds = [
      record('gmail', 'webmail', 'alice@corp.example', 'Customer sends invoices only to my Gmail address', 14),
      record('dropbox', 'cloud_storage', 'dan@corp.example', 'Collect the tender documents from the contractor', 7),
      record('google_drive', 'cloud_storage', 'erin@corp.example', 'Shared budget sheets with the ministry', 30),
      record('telegram_web', 'instant_messaging', 'fong@corp.example', '與承辦商聯絡，確認新聞稿的內容', 3),
    ];
    for (const r of seeds) await post(desk, r);
    approvers = await approverBrowser(desk);
    const bob = await approvers.as(BOB);
    const page = await bob.newPage();
    await page.goto('/desk');
    await row(page, seeds[0].justification).getByLabel('Days').fill('10');
    await row(page, seeds[0].justification).getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL(/\/desk\?lang=en&done=1$/);
    await row(page, seeds[1].justification).getByLabel('Reason for denial').fill('Use the department share for tender documents');
    await row(page, seeds[1].justification).getByRole('button', { name: 'Deny' }).click();
    await page.waitForURL(/\/desk\?lang=en&done=1$/);
    assert.equal(await page.locator('tbody tr').count(), 2, 'two requests still wait');
    await bob.close();

    const pages = [
      { path: '/desk', name: 'queue', heading: { en: 'Waiting for a decision', zh: '待決定的申請' } },
      { path: '/desk/approved', name: 'approved', heading: { en: 'Approvals in force', zh: '生效中的批准' } },
      { path: '/desk/history', name: 'history', heading: { en: 'History', zh: '紀錄' } },
      { path: '/desk/overview', name: 'overview', heading: { en: 'Compliance overview', zh: '合規概覽' } },
    ];
    // The desk picks the language from Accept-Language (the browser's locale), or ?lang=.
    for (const { locale, lang, key } of [{ locale: 'en-US', lang: 'en', key: 'en' }, { locale: 'zh-TW', lang: 'zh-Hant', key: 'zh' }]) {
      const context = await approvers.as(BOB, locale);
      try {
        const p = await context.newPage();
        for (const { path: at, name, heading } of pages) {
          const response = await p.goto(at);
          assert.equal(response.status(), 200, `${at} (${locale})`);
          assert.equal(await p.locator('html').getAttribute('lang'), lang, `${at} (${locale})`);
          assert.equal(await p.locator('h1').textContent(), heading[key], `${at} (${locale})`);
          await p.screenshot({ path: artifactPath(`desk-${name}-${locale === 'zh-TW' ? 'zh_TW' : 'en'}.png`), fullPage: true });
          assert.deepEqual(await axe(p), [], `${at} (${locale})`);
        }
        // The rows are there in both languages: the approval in force, the denial in the history.
        await p.goto('/desk/approved');
        assert.equal(await p.locator('tbody tr').count(), 1);
        assert.match(await p.locator('tbody tr').textContent(), /alice@corp\.example/);
        await p.goto('/desk/history');
        assert.equal(await p.locator('tbody tr').count(), 4);
        assert.match(await row(p, seeds[1].justification).textContent(), /Use the department share for tender documents/);
      } finally {
        await context.close();
      }
    }
  } finally {
    await approvers?.close();
    await desk.close();
  }
});

test('end to end with the real desk: request on the block page → bob approves in his queue → the tab opens by itself → bob revokes → blocked again; mallory gets 403', async (t) => {
  const revocationListUrl = `${DESK}/api/revocations`;
  // The department policy: the desk's key, requests to the desk, its revocation list. The desk
  // reads the same file (key `policy`).
  const departmentPolicy = (keys) => ({
    approvals: { keys, revocationListUrl },
    requests: { url: `${DESK}/api/requests` },
  });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-desk-e2e-'));
  let desk;
  let s;
  let approvers;
  try {
    desk = await startDesk({
      publicUrl: DESK,
      approvers: { categories: { webmail: [BOB], cloud_storage: ['carol@CORP.EXAMPLE'] } },
      policy: departmentPolicy,
      tls: makeCertificate(work),
    });
    s = await openScenario('desk', {
      policy: departmentPolicy(desk.keys),
      host: true,
      env: { GATEHOUSE_IDENTITY_ROOT: joinedIdentityRoot(path.join(work, 'identity')) },
      hostPorts: { 'desk.corp.example': desk.front.port },
    });
    let st = await s.waitForEnforced((x) => x.policy?.source === 'managed' && x.host?.status === 'connected' && x.revocationList?.url === revocationListUrl,
      'managed policy, host and the first revocation list fetch');
    // Applied, or already revalidated (304) by a second fetch on the policy's load.
    assert.ok(['applied', 'unchanged'].includes(st.revocationList.status), `the desk's (empty) list verifies with its key: ${JSON.stringify(st.revocationList)}`);
    assert.equal(desk.front.requests.find((r) => r.url === '/api/revocations')?.status, 200);
    const principal = st.identity.principal;
    assert.match(principal ?? '', /^[^@]+@corp\.example$/);

    // The user asks on the block page; it goes to the real desk.
    const visit = await s.visit(GMAIL);
    const block = visit.page;
    assert.equal(visit.url, s.blockUrl(GMAIL));
    assert.equal(await blockPageReady(block), 'ready');
    const justification = 'Read the supplier thread on my old address';
    await block.fill('#justification', justification);
    await block.fill('#days', '3');
    await block.click('#request-button');
    await block.waitForSelector('#desk-status[data-status="pending"]:not([hidden])');
    assert.match(await block.locator('#desk-status').textContent(), /Waiting for your manager's decision/);
    const posted = desk.front.requests.filter((r) => r.method === 'POST' && r.url === '/api/requests');
    assert.deepEqual(posted.map((r) => r.status), [201], 'one request, accepted by the desk');

    // Whoever is not an approver of webmail does not see it, or cannot open the desk at all.
    approvers = await approverBrowser(desk);
    const carol = await approvers.as('carol@CORP.EXAMPLE');
    const carolPage = await carol.newPage();
    assert.equal((await carolPage.goto('/desk')).status(), 200);
    assert.equal(await carolPage.locator('main p').textContent(), 'Nothing here.', 'a cloud-storage approver does not see a webmail request');
    await carol.close();
    const mallory = await approvers.as('mallory@CORP.EXAMPLE');
    const malloryPage = await mallory.newPage();
    assert.equal((await malloryPage.goto('/desk')).status(), 403, 'a signed-in non-approver');
    assert.equal(await malloryPage.locator('[role=alert]').textContent(), 'You are not an approver on this desk.');
    assert.equal((await malloryPage.goto('/desk/approved')).status(), 403);
    await mallory.close();
    const noProxy = await fetch(`${desk.url}/desk`, { headers: { 'X-Remote-User': BOB } });
    assert.equal(noProxy.status, 401, 'the user header without the proxy secret signs nobody in');

    // Bob finds it in his queue and approves it for one day.
    const bob = await approvers.as(BOB);
    const bobPage = await bob.newPage();
    await bobPage.goto('/desk');
    const request = row(bobPage, justification);
    assert.equal(await request.count(), 1, 'the request is in bob\'s queue');
    assert.match(await request.textContent(), new RegExp(`${principal.replace('.', '\\.')}.*reported by the desktop, not verified`, 's'));
    assert.match(await request.locator('td').nth(1).textContent(), /^ws01$/i);
    const deskId = (await request.locator('form[action$="/approve"]').getAttribute('action')).split('/')[3];
    await request.getByLabel('Days').fill('1');
    const approvedMs = Date.now();
    await request.getByRole('button', { name: 'Approve' }).click();
    await bobPage.waitForURL(/done=1/);

    // The waiting tab opens the site by itself: no copy-paste.
    await block.waitForURL(GMAIL, { timeout: 20_000 });
    const openedMs = Date.now() - approvedMs;
    t.diagnostic(`approved at the desk → Gmail open in the waiting tab: ${openedMs} ms`);
    assert.equal(await block.title(), 'Stand-in: mail.google.com');
    st = await s.status();
    const approval = st.approvals.find((a) => a.services?.includes('gmail'));
    assert.ok(approval, `the desk's token is in force: ${JSON.stringify(st.approvals)}`);
    const ends = approval.expiresMs;
    assert.ok(Math.abs(ends - (approvedMs + 86_400_000)) < 120_000, `approved for one day (ends ${new Date(ends).toISOString()})`);
    const statusPage = await s.context.newPage();
    await statusPage.goto(s.extensionUrl('status.html'));
    await statusPage.waitForSelector('body[data-state="ready"]');
    assert.match(await statusPage.locator('#approvals').textContent(), new RegExp(`gmail — ${justification}.*${approval.id}`));
    await s.waitForAudit((e) => e.kind === 'approval_imported' && e.source === 'desk', 'the import in the audit trail');

    // Bob revokes it among the approvals in force.
    await bobPage.goto('/desk/approved');
    const inForce = bobPage.locator('tbody tr', { hasText: principal });
    assert.equal(await inForce.count(), 1);
    await inForce.getByRole('button', { name: 'Revoke' }).click();
    await bobPage.waitForURL(/\/desk\/approved\?lang=en&done=1$/);
    const revokedMs = Date.now();

    // "Check again" stands in for the list's alarm (every revocationListMinutes, default 5).
    await statusPage.click('#refresh');
    // The list is applied, then the rules recompiled without the approval.
    st = await s.waitForEnforced((x) => x.revocationList?.checkedMs >= revokedMs && x.revocationList.status === 'applied'
      && x.compiled?.atMs >= x.revocationList.checkedMs && !x.approvals.some((a) => a.id === approval.id),
    'the desk\'s revocation applied and the rules recompiled');
    assert.equal(st.compiled.reason, 'revocation list');
    t.diagnostic(`revoked at the desk → rules without the approval: ${Date.now() - revokedMs} ms (with "Check again")`);
    assert.equal(st.revocationList.added, 1);
    assert.ok(st.rejected.some((r) => r.reason === 'revoked'), 'the token is listed as revoked');
    const fetches = desk.front.requests.filter((r) => r.url === '/api/revocations');
    assert.ok(fetches.length >= 2 && fetches.every((r) => r.status === 200 || r.status === 304), JSON.stringify(fetches));

    const sinceMs = Date.now();
    const again = await s.visit(GMAIL, { page: block });
    assert.equal(again.url, s.blockUrl(GMAIL), 'the same tab goes to the block page');
    assert.equal(await blockPageReady(block), 'ready');
    assert.match(await block.locator('#approval-notes').textContent(), new RegExp(`${approval.id} .*withdrawn`));
    assert.equal(s.web.requests.filter((r) => r.host === 'mail.google.com' && r.atMs >= sinceMs).length, 0, 'Gmail saw nothing after the revocation');
    // The status URL the desktop followed says so too.
    const answer = await (await fetch(`${desk.url}/api/requests/${deskId}`)).json();
    assert.equal(answer.status, 'revoked');
    await bob.close();
  } finally {
    await approvers?.close();
    await s?.close();
    await desk?.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
});
