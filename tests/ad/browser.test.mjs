// The product on the joined workstation ws01: Debian's Chromium with the extension, the managed
// policy in (a private) /etc/chromium, the real native host registered, Chromium and the host
// running as the domain users alice and bob (uids from SSSD). The policy's scope is "joined to
// corp.example and a domain controller discoverable"; Gmail is a local stand-in.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { approve, approverKey, dc, domain, scratchFor, since } from './lib/domain.mjs';
import { browserAs as openAs, harness } from './lib/browser.mjs';

const { blockPageReady } = harness;

const GMAIL = 'https://mail.google.com/mail/u/0/';
const GMAIL_HOST = 'mail.google.com';
const SCOPE = { joinedDomains: ['corp.example'], network: { domainControllersDiscoverable: true } };

let work;
let key;
let policy;
let token;
let alice;

before(async () => {
  work = scratchFor(null, 'browser');
  key = await approverKey(work);
  policy = { scope: SCOPE, approvals: { keys: [key.publicJwk] } };
  token = await approve(key, domain.users.alice.upn);
});

after(async () => {
  await alice?.close();
  await dc.start().catch(() => {});
  fs.rmSync(work, { recursive: true, force: true });
});

/** Chromium as `user` on ws01 under this file's policy. */
const browserAs = (user) => openAs(user, { policy, sentinelHosts: [GMAIL_HOST] });

/** The status page, rendered, with a way to read one field. */
async function statusPage(s, { refresh = false } = {}) {
  const page = await s.context.newPage();
  await page.goto(s.extensionUrl('status.html'));
  await page.waitForSelector('body[data-state="ready"]');
  if (refresh) {
    // The user's "Refresh" button: network facts and approvals are re-read from the host now
    // (otherwise every 5 minutes).
    await page.evaluate(() => { document.body.dataset.state = 'refreshing'; });
    await page.click('#refresh');
    await page.waitForSelector('body[data-state="ready"]');
  }
  return page;
}

const text = async (page, selector) => (await page.locator(selector).textContent())?.trim() ?? '';

async function expectBlocked(s, who) {
  const before = s.sentinel.connections.length;
  const { page, url } = await s.visit(GMAIL);
  assert.equal(url, s.blockUrl(GMAIL), `${who}: Gmail is redirected to the block page (landed on ${url})`);
  assert.equal(await blockPageReady(page), 'ready');
  assert.equal(await page.locator('body').getAttribute('data-action'), 'block', `${who}: block page action`);
  const reason = await text(page, '#reason-code');
  await page.close();
  assert.equal(s.sentinel.connections.length, before, `${who}: the Gmail stand-in saw no connection while blocked`);
  return reason;
}

async function expectLoads(s, who) {
  const before = s.sentinel.requests.length;
  const { page, url, error } = await s.visit(GMAIL);
  assert.equal(error, null, `${who}: Gmail loads without error`);
  assert.equal(url, GMAIL, `${who}: Gmail is not redirected (landed on ${url})`);
  assert.match(await text(page, '#standin'), /mail\.google\.com/, `${who}: the Gmail stand-in page is shown`);
  assert.ok(s.sentinel.requests.length > before, `${who}: the Gmail stand-in served the page`);
  await page.close();
}

test('alice on ws01 with the DC reachable: in scope, identity from SSSD, Gmail blocked', async () => {
  const t0 = Date.now();
  alice = await browserAs('alice');
  const st = await alice.status();
  assert.equal(st.identity.principal, 'alice@corp.example', 'status identity.principal (alice through SSSD)');
  assert.equal(st.identity.joined, true, 'status identity.joined');
  assert.equal(st.identity.domain, 'corp.example', 'status identity.domain');
  assert.equal(st.identity.fqdn, 'ws01.corp.example', 'status identity.fqdn');
  assert.equal(st.network?.domainControllersDiscoverable, true, 'status network.domainControllersDiscoverable');
  assert.equal(st.scope?.inScope, true, `scope verdict: ${JSON.stringify(st.scope)}`);
  assert.equal(st.scope.reason, 'on_network', 'scope reason');
  if (!st.compiled?.install?.ok) {
    console.log(`# note: the policy's compiled rules are not installed (${st.compiled?.install?.error ?? st.compiled?.error}); the bootstrap ruleset is what blocks`);
  }
  assert.equal(await expectBlocked(alice, 'alice, DC reachable'), 'blocked', 'block page reason code');
  const page = await statusPage(alice);
  assert.equal(await page.locator('#scope').getAttribute('data-in-scope'), 'true', 'status page: in scope');
  assert.match(await text(page, '#identity'), /alice@corp\.example/, 'status page names alice');
  await page.close();
  console.log(`# timing: scenario DC reachable ${since(t0)} ms`);
});

test('alice on ws01 with the DC stopped: out of scope, Gmail loads, the status page says why', async () => {
  assert.ok(alice, 'alice\'s browser from the previous scenario');
  const t0 = Date.now();
  await dc.stop();
  try {
    const page = await statusPage(alice, { refresh: true });
    const st = await alice.status();
    assert.equal(st.network?.domainControllersDiscoverable, false, 'status network.domainControllersDiscoverable with the DC stopped');
    assert.equal(st.scope?.inScope, false, `scope verdict with the DC stopped: ${JSON.stringify(st.scope)}`);
    assert.equal(st.scope.reason, 'off_network', 'scope reason with the DC stopped');
    assert.equal(await page.locator('#scope').getAttribute('data-in-scope'), 'false', 'status page: out of scope');
    assert.match(await text(page, '#scope'), /Not connected to the government internal network/, 'status page scope line');
    assert.match(await text(page, '#scope-explanation'), /not on the internal network/, 'status page explains why');
    await page.close();
    await expectLoads(alice, 'alice, DC stopped');
  } finally {
    await dc.start();
  }
  // Back on the network: blocked again once the facts are re-read.
  const page = await statusPage(alice, { refresh: true });
  assert.equal(await page.locator('#scope').getAttribute('data-in-scope'), 'true', 'status page: in scope again with the DC back');
  await page.close();
  await expectBlocked(alice, 'alice, DC back');
  console.log(`# timing: scenario DC stopped ${since(t0)} ms`);
});

test('an approval issued to alice opens Gmail in alice\'s browser', async () => {
  assert.ok(alice, 'alice\'s browser from the previous scenario');
  const t0 = Date.now();
  try {
    const page = await statusPage(alice);
    await page.fill('#token', token);
    await page.click('#import');
    await page.waitForSelector('#import-result.ok, #import-result.bad');
    assert.equal(await page.locator('#import-result').getAttribute('class'), 'ok', `import: ${await text(page, '#import-result')}`);
    const st = await alice.status();
    assert.deepEqual(st.rejected, [], 'no rejected tokens in alice\'s browser');
    assert.equal(st.approvals.length, 1, 'one approval in force');
    assert.equal(st.approvals[0].subject, 'alice@corp.example');
    assert.deepEqual(st.approvals[0].services, ['gmail']);
    assert.match(await text(page, '#approvals'), /gmail/, 'the status page lists the approval');
    await page.close();
    // The approval reaches enforcement only through the recompiled rules.
    assert.equal(st.compiled?.install?.ok, true,
      `the extension installed the rules compiled with the approval (else the bootstrap ruleset keeps blocking): ${JSON.stringify(st.compiled?.install)}`);
    await expectLoads(alice, 'alice with her approval');
  } finally {
    await alice.close();
    alice = null;
  }
  console.log(`# timing: scenario approval for alice ${since(t0)} ms`);
});

test('the same token in bob\'s browser does nothing; the status page says it belongs to someone else', async () => {
  const t0 = Date.now();
  const bob = await browserAs('bob');
  try {
    const st0 = await bob.status();
    assert.equal(st0.identity.principal, 'bob@corp.example', 'status identity.principal (bob through SSSD)');
    assert.equal(st0.scope?.inScope, true, `bob's scope: ${JSON.stringify(st0.scope)}`);
    const page = await statusPage(bob);
    await page.fill('#token', token);
    await page.click('#import');
    await page.waitForSelector('#import-result.ok, #import-result.bad');
    const st = await bob.status();
    assert.deepEqual(st.approvals, [], 'no approval in force for bob');
    const rejected = st.rejected.map((r) => `${r.reason}: ${r.message}`);
    assert.equal(st.rejected.length, 1, `one rejected token: ${JSON.stringify(rejected)}`);
    assert.equal(st.rejected[0].reason, 'other_user', `rejection reason: ${rejected[0]}`);
    const line = page.locator('#rejected li[data-reason="other_user"]');
    assert.equal(await line.count(), 1, 'the status page lists the token as other_user');
    assert.match(await line.textContent(), /issued to alice@corp\.example, not to the signed-in user/, 'the status page says whose it is');
    await page.close();
    assert.equal(await expectBlocked(bob, 'bob with alice\'s token'), 'blocked', 'bob\'s block page reason code');
  } finally {
    await bob.close();
  }
  console.log(`# timing: scenario token in bob's browser ${since(t0)} ms`);
});
