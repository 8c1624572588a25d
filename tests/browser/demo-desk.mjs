#!/usr/bin/env node
// The second half of `cargo xtask demo` (issue 13): the real approval desk on SQLite and one
// request → approve → access round trip, narrated with timings, with screenshots.
//
//   1. `gatehouse-approval init` + `serve` in a throwaway folder (SQLite), approver bob for
//      webmail, signed in through the reverse proxy the demo plays (lib/desk.mjs, as
//      desk.test.mjs); desktops reach it as https://desk.corp.example through its TLS front.
//   2. A staff member's Chromium with the extension, the native host and a managed policy that
//      sends requests to the desk, trusts its key and fetches its signed revocation list
//      (approvals count only once a recent list has been fetched).
//   3. Gmail (a local stand-in) is blocked → she asks on the block page → bob sees it in his
//      queue (English and Traditional Chinese) and approves → her waiting tab opens Gmail by itself
//      → her status page lists the approval → the compliance overview (English and Traditional
//      Chinese).
//
// Headless always, in the harness's private mount namespace (the managed policy is read the real
// way; root needed for `unshare --mount`, as for the tests). Screenshots go to
// $GATEHOUSE_DEMO_OUT/round-trip (default target/demo/round-trip); their paths are printed.
// Everything it starts — desk, TLS front, stand-ins, both browsers — is stopped in `finally`.
//
// Environment as for the tests: GATEHOUSE_EXTENSION_DIR, GATEHOUSE_HOST_BIN (a test-hooks host:
// it reads the joined-machine fixture), GATEHOUSE_APPROVAL_BIN, CHROMIUM.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeCertificate } from './lib/standin.mjs';
import { REPO, blockPageReady, hostAvailable, openScenario } from './lib/harness.mjs';
import { approvalAvailable, approvalBin, approverBrowser, joinedIdentityRoot, startDesk } from './lib/desk.mjs';

const DESK = 'https://desk.corp.example';
const GMAIL = 'https://mail.google.com/mail/u/0/';
const BOB = 'bob@CORP.EXAMPLE';
const JUSTIFICATION = 'Read the supplier thread on my old address';

const out = path.join(path.resolve(process.env.GATEHOUSE_DEMO_OUT || path.join(REPO, 'target', 'demo')), 'round-trip');
const startMs = Date.now();
const shots = [];

/** One narrated step: its name, what it did, and how long it took. */
async function step(name, fn) {
  const t0 = Date.now();
  const note = await fn();
  const at = ((Date.now() - startMs) / 1000).toFixed(1);
  console.log(`[${at.padStart(5)} s] ${name} (${Date.now() - t0} ms)${note ? `\n          ${note}` : ''}`);
}

async function shoot(page, file, what) {
  const full = path.join(out, file);
  await page.screenshot({ path: full, fullPage: true });
  shots.push({ full, what });
}

async function main() {
  if (!approvalAvailable()) throw new Error(`no gatehouse-approval at ${approvalBin} (cargo xtask build, or set GATEHOUSE_APPROVAL_BIN)`);
  if (!hostAvailable()) throw new Error('no native host (GATEHOUSE_HOST_BIN): the round trip needs the real host for the user\'s identity');
  if (process.getuid?.() !== 0) {
    // The managed policy is read from /etc/chromium, which the harness replaces in a private
    // mount namespace only; a non-root desktop cannot make one and the real /etc is never written.
    console.log('skipped: the round trip needs root (unshare --mount for the managed policy), as the browser tests do');
    return;
  }
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  const revocationListUrl = `${DESK}/api/revocations`;
  // The department policy: the desk's key, requests to the desk, its revocation list. The desk
  // reads the same file (key `policy`).
  const departmentPolicy = (keys) => ({
    approvals: { keys, revocationListUrl },
    requests: { url: `${DESK}/api/requests` },
  });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-demo-desk-'));
  let desk;
  let s;
  let approvers;
  try {
    await step('approval desk: gatehouse-approval init + serve on SQLite, healthy', async () => {
      desk = await startDesk({
        publicUrl: DESK,
        approvers: { categories: { webmail: [BOB] } },
        policy: departmentPolicy,
        tls: makeCertificate(work),
      });
      return `data dir ${desk.dataDir}; ${DESK} → TLS front on 127.0.0.1:${desk.front.port} → desk on ${desk.url}; approver for webmail: ${BOB}`;
    });

    let st;
    await step('staff member\'s Chromium: extension, native host, managed policy, first signed revocation list fetched', async () => {
      s = await openScenario('demo-desk', {
        policy: departmentPolicy(desk.keys),
        host: true,
        env: { GATEHOUSE_IDENTITY_ROOT: joinedIdentityRoot(path.join(work, 'identity')) },
        hostPorts: { 'desk.corp.example': desk.front.port },
      });
      st = await s.waitForEnforced((x) => x.policy?.source === 'managed' && x.host?.status === 'connected'
        && x.revocationList?.url === revocationListUrl && ['applied', 'unchanged'].includes(x.revocationList?.status),
      'managed policy, host and the first revocation list fetch', 30_000);
      return `signed in as ${st.identity?.principal ?? '(unknown)'}; revocation list ${st.revocationList.status}`;
    });

    let block;
    await step(`she opens Gmail (${GMAIL}) → the block page`, async () => {
      const visit = await s.visit(GMAIL);
      block = visit.page;
      if (visit.url !== s.blockUrl(GMAIL)) throw new Error(`expected the block page, got ${visit.url}`);
      if (await blockPageReady(block) !== 'ready') throw new Error('the block page did not render its verdict');
      return `Gmail's server saw ${s.web.requests.filter((r) => r.host === 'mail.google.com').length} requests`;
    });

    await step('she asks for access on the block page (3 days, with a reason) → sent to the desk, waiting', async () => {
      await block.fill('#justification', JUSTIFICATION);
      await block.fill('#days', '3');
      await block.click('#request-button');
      await block.waitForSelector('#desk-status[data-status="pending"]:not([hidden])');
      await shoot(block, '1-block-page-request-pending.png', 'the block page: request sent, waiting for the approver');
      const posted = desk.front.requests.filter((r) => r.method === 'POST' && r.url === '/api/requests');
      return `block page says: "${(await block.locator('#desk-status').textContent()).trim()}"; desk answered ${posted.map((r) => r.status).join(', ')}`;
    });

    let bob;
    let bobPage;
    await step('bob\'s browser (another machine: plain Chromium, signed in by the reverse proxy)', async () => {
      approvers = await approverBrowser(desk);
      bob = await approvers.as(BOB);
      bobPage = await bob.newPage();
    });
    const request = bobPage.locator('tbody tr', { hasText: JUSTIFICATION });
    await step('bob (approver) opens his queue in English and in Traditional Chinese', async () => {
      await bobPage.goto('/desk?lang=zh-TW');
      if (await request.count() !== 1) throw new Error('the request is not in bob\'s queue (zh-TW)');
      await shoot(bobPage, '2-approver-queue-zh-TW.png', 'bob\'s queue in Traditional Chinese, the request waiting');
      await bobPage.goto('/desk?lang=en');
      if (await request.count() !== 1) throw new Error('the request is not in bob\'s queue');
      await shoot(bobPage, '3-approver-queue-en.png', 'bob\'s queue in English, the request waiting');
      const cells = await request.locator('td').allInnerTexts();
      return `one request waiting: ${cells.slice(0, 6).map((c) => c.replace(/\s+/g, ' ').trim()).join(' | ')}`;
    });

    let approvedMs;
    await step('bob approves it for 1 day at the desk', async () => {
      await request.getByLabel('Days').fill('1');
      approvedMs = Date.now();
      await request.getByRole('button', { name: 'Approve' }).click();
      await bobPage.waitForURL(/done=1/);
    });

    await step('her waiting tab opens Gmail by itself (no copy-paste)', async () => {
      await block.waitForURL(GMAIL, { timeout: 30_000 });
      await block.waitForLoadState('load');
      await shoot(block, '4-site-opened-after-approval.png', 'her tab, now on Gmail (the local stand-in) after the approval');
      const openedMs = Date.now() - approvedMs;
      st = await s.status();
      const approval = st.approvals.find((a) => a.services?.includes('gmail'));
      if (!approval) throw new Error(`the desk's approval is not in force: ${JSON.stringify(st.approvals)}`);
      return `${openedMs} ms after bob's click; approval ${approval.id} in force until ${new Date(approval.expiresMs).toISOString()}`;
    });

    await step('her Gatehouse status page lists the approval', async () => {
      const statusPage = await s.context.newPage();
      await statusPage.goto(s.extensionUrl('status.html'));
      await statusPage.waitForSelector('body[data-state="ready"]');
      await shoot(statusPage, '5-status-page-approval-in-force.png', 'her Gatehouse status page: the approval from the desk in force');
      await statusPage.close();
    });

    await step('the compliance overview, in English and in Traditional Chinese', async () => {
      await bobPage.goto('/desk/overview?lang=en');
      await shoot(bobPage, '6-compliance-overview-en.png', 'the compliance overview in English');
      await bobPage.goto('/desk/overview?lang=zh-TW');
      await shoot(bobPage, '7-compliance-overview-zh-TW.png', 'the compliance overview in Traditional Chinese');
    });
    await bob.close();

    console.log(`\nRound trip done in ${((Date.now() - startMs) / 1000).toFixed(1)} s. Screenshots:`);
    for (const { full, what } of shots) console.log(`  ${full}\n      ${what}`);
  } finally {
    const t0 = Date.now();
    await approvers?.close();
    await s?.close();
    await desk?.close();
    fs.rmSync(work, { recursive: true, force: true });
    console.log(`stopped both browsers, the stand-ins, the TLS front and the desk (${Date.now() - t0} ms)`);
  }
}

main().catch((err) => {
  console.error(`demo failed: ${err?.message ?? err}`);
  process.exitCode = 1;
});
