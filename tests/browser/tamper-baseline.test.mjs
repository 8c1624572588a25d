// Tamper resistance through the hardening baseline (issue 9, findings 1, 3 and 4, and remote
// debugging): the person at the desk has no admin rights but owns their profile, their browser's
// command line and their programs. Each scenario applies, as Chromium's real managed policy, the
// Linux JSON that `gatehouse policy-templates` generates for Chromium — with the test extension id
// and this harness's update URL — and tries one way around Gatehouse.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { cliAvailable, cliBin } from './lib/approver.mjs';
import {
  blockPageReady, config, EXTENSION_ID, HOST_NAME, hostAvailable, namespaceWrapper, openScenario, REPO, sleep,
} from './lib/harness.mjs';

const GMAIL = 'https://mail.google.com/mail/u/0/';

if (!hostAvailable()) throw new Error('GATEHOUSE_HOST_BIN not built: these scenarios need the real native host');
if (!cliAvailable()) throw new Error(`no gatehouse CLI at ${cliBin} (cargo xtask build, or set GATEHOUSE_CLI_BIN)`);

/**
 * The generated Chromium policy file, split the way the harness takes it: the browser policies
 * and Gatehouse's own (`3rdparty`) policy. The update URL is a placeholder the harness replaces
 * with its local one (the generator, rightly, accepts only https).
 */
function generatedBaseline(extensionPolicy) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-baseline-'));
  try {
    fs.writeFileSync(path.join(dir, 'policy.json'), JSON.stringify(extensionPolicy));
    execFileSync(cliBin, ['policy-templates', '--policy', path.join(dir, 'policy.json'), '--out', path.join(dir, 'out'),
      '--extension-id', EXTENSION_ID, '--update-url', 'https://updates.gatehouse.test/gatehouse/updates.xml'],
    { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    const { '3rdparty': third, ...chromePolicies } = JSON.parse(fs.readFileSync(path.join(dir, 'out/linux/chromium/gatehouse.json'), 'utf8'));
    return { chromePolicies, policy: third.extensions[EXTENSION_ID] };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The baseline for a Playwright-driven browser. RemoteDebuggingAllowed = false also refuses
 * --remote-debugging-pipe, which is how Playwright drives Chromium (measured below: the launch
 * fails), so driven scenarios leave that one policy out; the last scenario tests it on its own.
 */
function drivableBaseline(extensionPolicy) {
  const { chromePolicies, policy } = generatedBaseline(extensionPolicy);
  delete chromePolicies.RemoteDebuggingAllowed;
  return { chromePolicies, policy };
}

/** This machine's own addresses as /32 and /128 networks: "the internal network" for a policy. */
function ownNetworks() {
  const cidrs = Object.values(os.networkInterfaces()).flat()
    .filter((a) => !a.internal && !a.address.startsWith('fe80:'))
    .map((a) => `${a.address}/${a.family === 'IPv4' ? 32 : 128}`);
  assert.ok(cidrs.length > 0, 'this machine has a non-loopback address');
  return cidrs;
}

test('a native host planted in the user profile is ignored: the machine-wide host answers', async () => {
  const { chromePolicies, policy } = drivableBaseline({ scope: { network: { cidrs: ownNetworks() } } });
  // First start: Gatehouse force-installed, the real host registered machine-wide (as deployed).
  const s0 = await openScenario('planted-host', { forceInstall: true, chromePolicies, policy, host: true });
  await s0.waitFor((st) => st.host?.status === 'connected' && st.scope?.inScope === true, 'the real host: in scope');
  await s0.stop();

  // The user writes their own host under Gatehouse's name into their profile, as
  // `gatehouse install-host --scope user` would, and restarts the browser.
  const mark = path.join(s0.root, 'fake-host-ran');
  const fake = path.join(s0.root, 'fake-host.sh');
  fs.writeFileSync(fake, `#!/bin/sh\nFAKE_HOST_MARK=${JSON.stringify(mark)} exec ${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(REPO, 'tests/browser/fixtures/fake-host.mjs'))} "$@"\n`, { mode: 0o755 });
  const planted = path.join(s0.dirs.profile, 'NativeMessagingHosts');
  fs.mkdirSync(planted, { recursive: true });
  fs.writeFileSync(path.join(planted, `${HOST_NAME}.json`), JSON.stringify({
    name: HOST_NAME, description: 'not Gatehouse', path: fake, type: 'stdio', allowed_origins: [`chrome-extension://${EXTENSION_ID}/`],
  }));

  const s = await openScenario('planted-host', { reuse: s0, forceInstall: true, chromePolicies, policy, host: true, sentinelHosts: ['mail.google.com'] });
  try {
    const st = await s.waitFor((x) => x.host?.status === 'connected' && x.identity && x.network, 'a host connected with facts');
    assert.equal(fs.existsSync(mark), false, 'the browser never started the planted host');
    assert.notEqual(st.host.hello?.hostVersion, '9.9.9', 'the host that answered is the real one');
    assert.equal(st.identity.user, os.userInfo().username);
    assert.equal(st.scope.inScope, true, 'in scope, from the real network facts');
    await s.waitForEnforced((x) => x.scope?.inScope === true, 'rules for an in-scope machine');
    const mail = await s.visit(GMAIL);
    assert.equal(mail.url, s.blockUrl(GMAIL));
    assert.deepEqual(s.sentinel.requests, [], 'Gmail never saw a request');
  } finally {
    await s.close();
  }
});

/** An unpacked extension of the user's own that fetches Gmail and reports on a local page. */
function rogueExtension(root) {
  const dir = path.join(root, 'rogue-extension');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({
    manifest_version: 3, name: 'Mail helper', version: '1.0',
    host_permissions: ['https://mail.google.com/*'],
    background: { service_worker: 'worker.js' },
  }));
  fs.writeFileSync(path.join(dir, 'worker.js'),
    "fetch('https://mail.google.com/mail/u/0/?from=rogue-extension').catch(() => {});\n");
  return dir;
}

test('a user-loaded extension cannot be installed; Gatehouse, allowed by id, still runs', async () => {
  const { chromePolicies, policy } = drivableBaseline({});
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-rogue-'));
  const rogue = rogueExtension(root);
  const s = await openScenario('user-extension', {
    forceInstall: true, chromePolicies, policy, host: true, sentinelHosts: ['mail.google.com'],
    args: [`--load-extension=${rogue}`],
  });
  try {
    const worker = await s.worker();
    assert.equal((await worker.evaluate(() => chrome.management.getSelf())).installType, 'admin');
    // Give the user's extension every chance to start and fetch.
    await sleep(4000);
    const others = s.context.serviceWorkers().filter((w) => w.url().startsWith('chrome-extension://') && !w.url().includes(EXTENSION_ID));
    assert.deepEqual(others.map((w) => w.url()), [], 'no other extension runs');
    assert.deepEqual(s.sentinel.requests.map((r) => r.url), [], 'Gmail saw no request from another extension');
    const mail = await s.visit(GMAIL);
    assert.equal(mail.url, s.blockUrl(GMAIL), 'Gatehouse itself enforces');
    // Developer mode (the other way to load unpacked extensions) is off by policy.
    const applied = await policyStatus(await s.context.newPage(), ['ExtensionDeveloperModeSettings', 'ExtensionSettings']);
    assert.deepEqual(applied.ExtensionDeveloperModeSettings, { value: '1', status: 'OK' });
    assert.equal(applied.ExtensionSettings.status, 'OK');
  } finally {
    await s.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

/** Name → {value, status} for the named policies, as chrome://policy shows them. */
async function policyStatus(page, names) {
  await page.goto('chrome://policy');
  await page.locator('policy-row').first().waitFor();
  const rows = await page.locator('.row').allInnerTexts();
  const out = {};
  for (const name of names) {
    const lines = rows.find((r) => r.startsWith(`${name}\n`))?.split('\n').map((l) => l.trim()) ?? [];
    out[name] = lines.length ? { value: lines[1], status: lines.at(-1) } : 'not set';
  }
  return out;
}

test('no new profile or Guest window from the profile picker; the policies are applied', async () => {
  const { chromePolicies, policy } = drivableBaseline({});
  const s = await openScenario('new-profile', { forceInstall: true, chromePolicies, policy, host: true });
  try {
    const page = await s.context.newPage();
    await page.goto('chrome://profile-picker');
    await page.locator('#addProfile').waitFor({ state: 'attached' });
    assert.equal(await page.locator('#addProfile').isVisible(), false, 'no "Add" in the profile picker');
    assert.equal(await page.locator('#browseAsGuestButton').isVisible(), false, 'no "Guest mode" in the profile picker');
    assert.deepEqual(await policyStatus(page, ['BrowserAddPersonEnabled', 'BrowserGuestModeEnabled', 'IncognitoModeAvailability']), {
      BrowserAddPersonEnabled: { value: 'false', status: 'OK' },
      BrowserGuestModeEnabled: { value: 'false', status: 'OK' },
      IncognitoModeAvailability: { value: '1', status: 'OK' },
    });
    // Every name in the generated file is one Chromium knows and applies (no "Unknown policy").
    const all = await policyStatus(page, Object.keys(chromePolicies));
    assert.deepEqual(Object.entries(all).filter(([, v]) => v.status !== 'OK'), [], 'every baseline policy applied');
  } finally {
    await s.close();
  }
});

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function listening(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => { socket.destroy(); resolve(true); });
    socket.on('error', () => resolve(false));
  });
}

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('remote debugging is refused: no port for --remote-debugging-port, no pipe for a driver', async () => {
  const { chromePolicies, policy } = generatedBaseline({});
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-remote-debugging-'));
  const etc = path.join(root, 'etc-chromium');
  fs.mkdirSync(path.join(etc, 'policies', 'managed'), { recursive: true });
  fs.writeFileSync(path.join(etc, 'policies', 'managed', 'gatehouse-test.json'),
    JSON.stringify({ ...chromePolicies, '3rdparty': { extensions: { [EXTENSION_ID]: policy } } }));
  for (const d of ['home', 'tmp']) fs.mkdirSync(path.join(root, d));
  const env = { ...process.env, HOME: path.join(root, 'home'), TMPDIR: path.join(root, 'tmp') };
  const wrapper = namespaceWrapper(root, etc);
  const common = ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--no-default-browser-check', '--disable-component-update'];
  try {
    // A plain launch, as a user would type it, asking for a DevTools port.
    const port = await freePort();
    const profile = path.join(root, 'profile-port');
    const browser = spawn(wrapper, [...common, `--user-data-dir=${profile}`, `--remote-debugging-port=${port}`, 'about:blank'], { env, stdio: 'ignore' });
    let opened = false;
    try {
      for (const deadline = Date.now() + 8000; Date.now() < deadline && !opened;) {
        opened = await listening(port);
        await sleep(250);
      }
      assert.equal(browser.exitCode, null, 'the browser itself started and runs');
      assert.ok(fs.existsSync(path.join(profile, 'Local State')), 'the browser itself started and runs');
    } finally {
      browser.kill('SIGTERM');
      await new Promise((resolve) => (browser.exitCode === null ? browser.once('exit', resolve) : resolve()));
    }
    assert.equal(opened, false, `nothing listens on the DevTools port ${port}`);

    // The pipe is refused too: a driver (Playwright, --remote-debugging-pipe) cannot attach.
    let driven = null;
    await chromium.launchPersistentContext(path.join(root, 'profile-pipe'), {
      executablePath: wrapper, headless: true, args: common.slice(1), env, timeout: 15_000,
    }).then(async (context) => { driven = 'attached'; await context.close(); }, (err) => { driven = String(err.message).split('\n')[0]; });
    assert.match(driven, /Timeout|closed|exited/i, 'a driver cannot attach over the pipe');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

// Known gap, measured and kept visible rather than hidden: BrowserAddPersonEnabled closes the
// profile menu only. From the command line `--profile-directory=<new name>` (every OS) or
// `--user-data-dir=<new folder>` (Linux, where UserDataDir is not supported) still starts a new
// profile, which has no Gatehouse until the force-install completes. Closing it needs application
// control over how the browser is started; the threat model says so.
test('a brand-new profile from the command line is open until the force-install completes',
  { todo: 'not closable by browser policy on Linux: pair with application control' }, async () => {
    const { chromePolicies, policy } = drivableBaseline({});
    const s = await openScenario('fresh-profile', {
      forceInstall: true, chromePolicies, policy, host: true, waitForWorker: false, sentinelHosts: ['mail.google.com'],
      args: ['--profile-directory=Brand New'],
    });
    try {
      const first = await s.visit(GMAIL);
      assert.equal(first.url, s.blockUrl(GMAIL), 'the first navigation of a new profile is blocked');
    } finally {
      await s.close();
    }
  });

// What does hold in that gap: whatever the user opened before Gatehouse arrived does not stay
// open. The first compile re-checks every open tab (issue 9, finding 10), so the window is the
// seconds of the force-install, not the rest of the session.
test('a blocked page opened in a brand-new profile before the force-install lands is closed once Gatehouse arrives', async () => {
  const { chromePolicies, policy } = drivableBaseline({});
  const s = await openScenario('fresh-profile-tab', {
    forceInstall: true, chromePolicies, policy, host: true, waitForWorker: false,
    args: ['--profile-directory=Brand New'],
  });
  try {
    const started = Date.now();
    const { page, url } = await s.visit(GMAIL);
    assert.equal(url, GMAIL, 'the gap this test bounds: the page loads before the force-install');
    await s.worker(30_000);
    await page.waitForURL(s.blockUrl(GMAIL), { timeout: 30_000 });
    assert.equal(await blockPageReady(page), 'ready');
    console.log(`new profile: Gmail open for ${Date.now() - started} ms until Gatehouse closed it`);
  } finally {
    await s.close();
  }
});
