// Fail closed: enforcement holds when the native host goes away, when the service worker is
// stopped, and across a browser restart before any policy read can complete.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { blockPageReady, config, hostAvailable, openScenario, unregisterHost } from './lib/harness.mjs';
import { stopWorker } from './lib/worker.mjs';

const GMAIL = 'https://mail.google.com/mail/u/0/';
const DROPBOX = 'https://www.dropbox.com/home';
/** Off the internal network per this policy (the test machine has no 10.99/16 address). */
const SCOPED = { scope: { network: { cidrs: ['10.99.0.0/16'] } } };

if (!hostAvailable()) throw new Error('GATEHOUSE_HOST_BIN not built: these scenarios need the real native host');

/** Pids of processes running `binary` (also once the file is deleted). */
function processesOf(binary) {
  const pids = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const exe = fs.readlinkSync(`/proc/${entry}/exe`);
      if (exe === binary || exe === `${binary} (deleted)`) pids.push(Number(entry));
    } catch { /* gone or not ours to read */ }
  }
  return pids;
}

async function expectBlocked(s, url) {
  const { page, url: landed } = await s.visit(url);
  assert.equal(landed, s.blockUrl(url), `${url} stays blocked`);
  return page;
}

/**
 * A navigation issued the instant the browser starts: the persisted rules redirect it — or, when
 * it raced Chromium's loading of the extension's rules (measured: 65 of 400 restarts,
 * tests/browser/start-race.mjs; with or without a file of the extension deleted;
 * docs/threat-model.md), the worker's first run puts the tab on the block page: the start
 * compile's open-tab check, or without an engine, one reload of every web tab. Zero contact holds only in the first case, and the test says which happened.
 */
async function expectBlockedAtRestart(t, s, url) {
  const { page, url: landed } = await s.visit(url);
  if (landed === s.blockUrl(url)) return { page, raced: false };
  const racedMs = Date.now();
  await page.waitForURL(s.blockUrl(url), { timeout: 15_000 });
  t.diagnostic(`${url} loaded before Chromium had the rules in force; on the block page ${Date.now() - racedMs} ms later`
    + ` (sentinel: ${s.sentinel.requests.length} requests)`);
  return { page, raced: true };
}

test('host removed: still blocked, and the status page says why', async () => {
  // A copy of the host that this scenario alone runs, so that "uninstalling" it is local.
  const s0 = await openScenario('host-removed', { policy: SCOPED, host: false, waitForWorker: false, sentinelHosts: ['mail.google.com'] });
  await s0.stop();
  const hostCopy = path.join(s0.root, 'bin', 'gatehouse-host');
  fs.mkdirSync(path.dirname(hostCopy), { recursive: true });
  fs.copyFileSync(config.hostBin, hostCopy);
  fs.chmodSync(hostCopy, 0o755);
  const s = await openScenario('host-removed', { reuse: s0, host: hostCopy });
  try {
    // With the host, this machine is out of scope: Gmail loads.
    await s.waitFor((st) => st.readyMs && st.host?.status === 'connected' && st.scope?.inScope === false, 'host connected, out of scope');
    const before = await s.visit(GMAIL);
    assert.equal(before.url, GMAIL);

    // Uninstall the host while the browser runs: registration and binary gone, process ended.
    const lostMs = Date.now();
    unregisterHost(s.dirs.etc);
    fs.rmSync(hostCopy);
    const pids = processesOf(hostCopy);
    assert.ok(pids.length >= 1, 'the host process was running');
    for (const pid of pids) process.kill(pid, 'SIGKILL');

    // Unknown facts count as in scope (fail closed): blocked again, with zero contact.
    // Wait for the rules compiled after the loss to be in force (the status says "in scope" as
    // soon as the facts are dropped; installing the recompiled rules takes a moment longer).
    const st = await s.waitFor((x) => x.host?.status === 'unavailable' && x.scope?.inScope === true
      && x.compiled?.atMs >= lostMs && x.compiled?.install?.ok, 'host unavailable and the rules recompiled');
    assert.ok(st.host.error?.name, JSON.stringify(st.host.error));
    assert.equal(st.identity, null, 'identity from the host is dropped');
    s.sentinel.reset();
    const page = await expectBlocked(s, GMAIL);
    assert.equal(await blockPageReady(page), 'ready');
    assert.match(await page.locator('#user').textContent(), /not available/i);
    assert.equal(s.sentinel.connections.length, 0);

    const status = await s.context.newPage();
    await status.goto(s.extensionUrl('status.html'));
    await status.waitForSelector('body[data-state="ready"]');
    assert.equal(await status.locator('#host-status').getAttribute('data-status'), 'unavailable');
    assert.match(await status.locator('#host-status').textContent(), /Not available/);
    assert.match(await status.locator('#host-facts').textContent(), /host_|exited|native/i, 'the problem is named');
  } finally {
    await s.close();
  }
});

test('service worker stopped through CDP: navigation still blocked', async () => {
  const s = await openScenario('sw-stopped', { policy: null, host: true, sentinelHosts: ['mail.google.com', 'www.dropbox.com'] });
  try {
    await s.waitFor((st) => st.readyMs && st.compiled?.install?.ok, 'rules installed');
    await s.worker();
    // DevTools' "stop" on the worker (lib/worker.mjs): it fails unless the worker was running.
    await stopWorker(s);
    // Nothing runs JavaScript for the extension now; the rules alone must hold.
    for (const url of [GMAIL, DROPBOX]) {
      const { page } = await s.visit(url);
      assert.match(page.url(), /block\.html#https:/);
      assert.equal(await blockPageReady(page), 'ready', 'the block page woke the worker to explain itself');
    }
    assert.equal(s.sentinel.connections.length, 0);
    assert.equal(s.sentinel.requests.length, 0);
  } finally {
    await s.close();
  }
});

// Measured in the deployed form, force-installed: Chromium installs the packed extension once and
// at a restart loads its already indexed rules. The persisted rules redirect to the block page's
// stable address: under `use_dynamic_url`, runtime.getURL's address changes at every browser
// session, and rules persisted with it sent a restart's first navigations to a dead page
// (ERR_BLOCKED_BY_CLIENT) until the worker reinstalled them. An *unpacked* load (--load-extension:
// development and these tests only; the baseline's ExtensionSettings refuses unpacked extensions)
// re-indexes the static rulesets at every start: with the full catalogue in the bootstrap a
// navigation racing that re-index got through 3 of 5 times, with whole hosts only 0 of 5.
test('browser restart with the same profile: blocked before any policy read completes (force-installed)', async (t) => {
  // With the hardening baseline's NetworkPredictionOptions = 2, as deployed. Without it, the
  // first navigation after a browser start — before the worker has run and turned prediction
  // off again — was measured to open two TLS connections with the blocked host's SNI (the
  // redirect itself held): the extension cannot act before it runs.
  const first = await openScenario('restart', {
    forceInstall: true,
    chromePolicies: { NetworkPredictionOptions: 2 },
    policy: { categories: { webmail: { mode: 'block' } } },
    host: true,
    sentinelHosts: ['mail.google.com', 'www.dropbox.com'],
  });
  let second = null;
  try {
    await first.waitFor((st) => st.readyMs && st.policy?.source === 'managed' && st.compiled?.install?.ok, 'rules installed', 60_000);
    await first.stop();

    // Restart and navigate at once, without waiting for the worker.
    second = await openScenario('restart', { reuse: first, forceInstall: true, waitForWorker: false });
    const { raced } = await expectBlockedAtRestart(t, second, GMAIL);
    if (!raced) assert.equal(second.sentinel.connections.length, 0);
  } finally {
    // The browser, then the shared servers and folder: a failed assertion must not leave a
    // browser or a server holding the test file open.
    await second?.stop();
    await first.close();
  }
});

// Chromium does not find the copy corrupted here (no disable reason, no reinstall: measured); the
// first navigation races the browser's start as in the test above, and the engine being gone, the
// worker reloads every web tab once instead of deciding.
test('browser restart after a file of the installed extension is deleted: the persisted rules still block (force-installed)', async (t) => {
  const first = await openScenario('restart-corrupt', {
    forceInstall: true,
    chromePolicies: { NetworkPredictionOptions: 2 },
    policy: { categories: { webmail: { mode: 'block' } } },
    host: true,
    sentinelHosts: ['mail.google.com', 'www.dropbox.com'],
  });
  let third = null;
  try {
    await first.waitFor((st) => st.readyMs && st.policy?.source === 'managed' && st.compiled?.install?.ok, 'rules installed', 60_000);
    await first.stop();
    // The engine deleted from the installed copy and no policy at all: no policy read can ever
    // complete, so the rules persisted in the profile are all that blocks.
    const installed = path.join(first.dirs.profile, 'Default', 'Extensions', first.extensionId);
    for (const version of fs.readdirSync(installed)) fs.rmSync(path.join(installed, version, 'wasm', 'gatehouse_core_bg.wasm'));
    third = await openScenario('restart-corrupt', { reuse: first, forceInstall: true, policy: null, host: false, waitForWorker: false });
    const { page, raced } = await expectBlockedAtRestart(t, third, DROPBOX);
    // The worker's start without an engine ends by sending every web tab through the rules once;
    // a navigation issued while that runs would be re-issued by it, so the next one waits for it.
    const st = await third.waitFor((x) => x.engineError && x.tabs, 'the worker started without its engine', 30_000);
    t.diagnostic(`worker start without an engine: ${JSON.stringify(st.tabs)}`);
    await expectBlocked(third, GMAIL);
    assert.equal(await blockPageReady(page), 'error', 'the page says it cannot explain, but the site stays closed');
    if (!raced) {
      assert.equal(third.sentinel.connections.length, 0);
      assert.equal(third.sentinel.requests.length, 0);
    }
  } finally {
    await third?.stop();
    await first.close();
  }
});
