// Tamper finding 9: the dynamic rules live in the user's profile. With the browser closed the
// user replaces a rule in `DNR Extension Rules/<id>/rules.json` by a top-priority allow-everything
// rule (same count) and deletes the index rules.fbs; Chromium rebuilds its index from the edited
// file. The worker must not trust a stored digest: at the next start, as its first work, it finds
// the difference by content, takes the rules out of force, reinstalls the compiled ones and audits
// `rules_repaired`. An allowed page probes the blocked hosts from the browser's start on: nothing
// may reach them after the worker's start check; what reaches them before it (the worker has not
// run yet — no extension code can act sooner) is counted and printed, the window the threat
// model states.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { EXTENSION_ID, hostAvailable, openScenario, sleep } from './lib/harness.mjs';
import { stopWorker } from './lib/worker.mjs';

const GMAIL = 'https://mail.google.com/mail/u/0/';
const UPLOAD = 'https://content.dropboxapi.com/2/files/upload';
const ALL_TYPES = ['main_frame', 'sub_frame', 'stylesheet', 'script', 'image', 'font', 'object', 'xmlhttprequest', 'ping', 'csp_report', 'media', 'websocket', 'webtransport', 'webbundle', 'other'];

if (!hostAvailable()) throw new Error('GATEHOUSE_HOST_BIN not built: these scenarios need the real native host');

function rulesDir(s) {
  return path.join(s.dirs.profile, 'Default', 'DNR Extension Rules', EXTENSION_ID);
}

/** What a user with a text editor does to the profile while the browser is closed. */
function tamper(s) {
  const dir = rulesDir(s);
  const file = path.join(dir, 'rules.json');
  const rules = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.ok(rules.length > 1, `compiled rules on disk: ${rules.length}`);
  rules[0] = { id: rules[0].id, priority: 2 ** 31 - 1, action: { type: 'allow' }, condition: { urlFilter: '*', resourceTypes: ALL_TYPES } };
  fs.writeFileSync(file, JSON.stringify(rules));
  fs.rmSync(path.join(dir, 'rules.fbs'), { force: true });
  return rules.length;
}

/** Simpler still: delete the rules and the extension's storage (with the record of the install). */
function deleteAll(s) {
  fs.rmSync(rulesDir(s), { recursive: true, force: true });
  fs.rmSync(path.join(s.dirs.profile, 'Default', 'Local Extension Settings', EXTENSION_ID), { recursive: true, force: true });
}

// Unpacked (--load-extension): Chromium re-enables the bootstrap ruleset at every load, which by
// itself holds the first seconds. Force-installed, as deployed: the ruleset stays off across
// restarts, so the worker's start check alone stands between the edited rules and the network.
for (const forceInstall of [false, true]) {
  test(`a ruleset edited on disk is out of force from the worker's first run and repaired (${forceInstall ? 'force-installed' : 'unpacked'})`, async () => {
    await editedRuleset(forceInstall ? 'integrity-forced' : 'integrity', forceInstall, 'edit');
  });
}

test('rules and extension storage deleted on disk: the bootstrap ruleset holds from the worker\'s first run (force-installed)', async () => {
  await editedRuleset('integrity-deleted', true, 'delete');
});

async function editedRuleset(name, forceInstall, how) {
  const first = await openScenario(name, {
    forceInstall,
    // As deployed (the hardening baseline): no preconnects before the worker runs.
    chromePolicies: { NetworkPredictionOptions: 2 },
    policy: { categories: { webmail: { mode: 'block' }, cloud_storage: { mode: 'block' } } },
    host: true,
    sentinelHosts: ['mail.google.com', 'content.dropboxapi.com'],
  });
  await first.waitForEnforced((st) => st.policy?.source === 'managed' && st.host?.status === 'connected' && st.compiled?.install?.ok, 'rules installed', 60_000);
  // The bootstrap ruleset is off once the compiled rules are in; the broad tier's rulesets are on
  // (every category blocks under this policy).
  const BROAD = ['broad_webmail', 'broad_cloud_storage', 'broad_instant_messaging', 'broad_circumvention'];
  if (forceInstall) assert.deepEqual((await (await first.worker()).evaluate(() => chrome.declarativeNetRequest.getEnabledRulesets())).sort(), [...BROAD].sort());
  const compiled = await (await first.worker()).evaluate(() => chrome.declarativeNetRequest.getDynamicRules());
  await first.stop();
  if (how === 'edit') {
    const count = tamper(first);
    assert.equal(count, compiled.length, 'the count is kept, as the attacker would');
  } else {
    deleteAll(first);
  }

  // The next start: an allowed page is already asking for the blocked hosts when the worker runs.
  const second = await openScenario(name, { reuse: first, forceInstall, waitForWorker: false });
  try {
    const page = await second.context.newPage();
    await page.goto('https://intranet.example/');
    const probe = () => page.evaluate(async ([mail, upload]) => {
      const out = [];
      for (const url of [mail, upload]) {
        try {
          const r = await fetch(url, { method: url.includes('upload') ? 'POST' : 'GET', body: url.includes('upload') ? 'x' : undefined, mode: 'no-cors' });
          out.push(r.type);
        } catch (err) {
          out.push('failed');
        }
      }
      return out;
    }, [GMAIL, UPLOAD]);
    // Probe until the worker reports its start check and the compiled rules installed.
    const t0 = second.launchedMs;
    let st = null;
    for (let i = 0; i < 100 && !st; i++) {
      await probe();
      try {
        const s = await second.status();
        if (s.readyMs && s.compiled?.install?.ok) st = s;
      } catch { /* the worker is not answering yet */ }
      if (!st) await sleep(100);
    }
    assert.ok(st, 'the worker became ready');
    for (let i = 0; i < 8; i++) {
      await probe();
      await sleep(200);
    }
    // Between the browser's start and the worker's first run, only what Chromium loaded from the
    // profile is in force: nothing the extension does can act sooner (threat model). From the
    // worker's start check on, nothing may get through.
    const seen = second.sentinel.requests.map((r) => ({ atMs: r.atMs, what: `${r.method} ${r.host}${r.url}` }));
    const early = seen.filter((r) => r.atMs <= st.integrity.doneMs + 100);
    console.log(`${name}: requests that reached the blocked hosts before the worker's start check: ${early.length}` +
      `${early.length ? ` (last ${st.integrity.doneMs - Math.max(...early.map((r) => r.atMs))} ms before it)` : ''}`);
    assert.deepEqual(seen.filter((r) => r.atMs > st.integrity.doneMs + 100).map((r) => r.what), [], 'no probe reached the blocked hosts after the start check');
    assert.ok(st.integrity.doneMs < st.compiled.atMs, 'the start check comes before the engine, the policy and the host');

    // In force now: exactly the compiled rules.
    const inForce = await (await second.worker()).evaluate(() => chrome.declarativeNetRequest.getDynamicRules());
    assert.deepEqual(inForce.filter((r) => r.priority > 10_000), [], 'no top-priority rule left');
    assert.equal(inForce.length, compiled.length);
    // Deleted along with the record of the install, the rules look like a first install: the
    // bootstrap ruleset holds, but there is nothing to say what was there (no audit event).
    assert.equal(st.integrity?.status, how === 'edit' ? 'repaired' : 'empty', `start check: ${JSON.stringify(st.integrity)}`);
    console.log(`${name}: launch → worker start ${st.startedMs - t0} ms; → start check done: ${st.integrity.doneMs - t0} ms (check ${st.integrity.doneMs - st.integrity.atMs} ms); → compiled rules in: ${st.compiled.atMs - t0} ms; worker start → ready ${st.readyMs - st.startedMs} ms`);

    // A navigation, a fetch, an upload and an iframe: still nothing reaches the blocked hosts.
    const nav = await second.visit(GMAIL);
    assert.equal(nav.url, second.blockUrl(GMAIL));
    await page.evaluate((src) => { const f = document.createElement('iframe'); f.src = src; document.body.append(f); }, 'https://mail.google.com/mail/');
    await probe();
    await sleep(500);
    assert.deepEqual(second.sentinel.requests.filter((r) => r.atMs > st.integrity.doneMs + 100).map((r) => `${r.method} ${r.host}${r.url}`), [], 'no request reached the blocked hosts after the repair');

    if (how !== 'edit') return;
    const repaired = await second.waitForAudit((e) => e.kind === 'rules_repaired', 'rules_repaired');
    assert.equal(repaired.length, 1, JSON.stringify(repaired));
    assert.equal(repaired[0].phase, 'start');
    assert.equal(repaired[0].installed, compiled.length);
  } finally {
    await second.close();
  }
}

test('a clean restart is not reported as a repair, and the timer check finds nothing', async () => {
  const first = await openScenario('integrity-clean', { policy: { categories: { webmail: { mode: 'block' } } }, host: true });
  await first.waitForEnforced((st) => st.compiled?.install?.ok && st.host?.status === 'connected', 'rules installed');
  await first.stop();
  const second = await openScenario('integrity-clean', { reuse: first });
  try {
    const st = await second.waitFor((x) => x.readyMs && x.compiled?.install?.ok, 'ready again');
    assert.equal(st.integrity?.status, 'verified', JSON.stringify(st.integrity));
    assert.equal(st.integrity.reindexed, true, 'the first start of a browser session re-indexes');
    assert.equal(st.compiled.install.repaired, null);
    // A worker stopped when idle and woken again in the same session only compares.
    if (second.probe) await second.probe.close();
    await stopWorker(second);
    const woken = await second.waitFor((x) => x.readyMs && x.startedMs > st.startedMs, 'the worker started again');
    assert.deepEqual([woken.integrity.status, woken.integrity.reindexed], ['verified', false]);
    assert.equal(woken.compiled.install.changed, false);
    // The timer's check, run now: the rules in force are the compiled ones.
    const worker = await second.worker();
    await worker.evaluate(() => new Promise((resolve) => {
      chrome.alarms.create('gatehouse.integrity', { when: Date.now() });
      setTimeout(resolve, 1500);
    }));
    await sleep(500);
    assert.deepEqual(second.auditEvents().filter((e) => e.kind === 'rules_repaired'), []);

    // Rules the worker did not grant (e.g. through DevTools on the worker): a session allow-all
    // rule and a bootstrap rule switched off one by one. The timer check removes and re-enables.
    await worker.evaluate(async () => {
      await chrome.declarativeNetRequest.updateSessionRules({ addRules: [{ id: 77, priority: 1e6, action: { type: 'allow' }, condition: { urlFilter: '*', resourceTypes: ['main_frame', 'xmlhttprequest'] } }] });
      await chrome.declarativeNetRequest.updateStaticRules({ rulesetId: 'bootstrap', disableRuleIds: [1] });
      chrome.alarms.create('gatehouse.integrity', { when: Date.now() });
    });
    const found = await second.waitForAudit((e) => e.kind === 'rules_repaired', 'rules_repaired (timer)');
    assert.equal(found.length, 1);
    assert.equal(found[0].phase, 'timer');
    assert.deepEqual(found[0].found.map((f) => f.ruleset).sort(), ['bootstrap', 'session']);
    assert.deepEqual(await worker.evaluate(() => chrome.declarativeNetRequest.getSessionRules()), []);
    assert.deepEqual(await worker.evaluate(() => chrome.declarativeNetRequest.getDisabledRuleIds({ rulesetId: 'bootstrap' })), []);
  } finally {
    await second.close();
  }
});
