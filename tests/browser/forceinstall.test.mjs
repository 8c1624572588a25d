// The production path: force-installed through ExtensionInstallForcelist (a self-hosted update
// manifest and a CRX3 signed with the development key), its policy in the same managed file.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blockPageReady, hostAvailable, openScenario } from './lib/harness.mjs';

const GMAIL = 'https://mail.google.com/mail/u/0/';
const DROPBOX = 'https://www.dropbox.com/home';

test('force-installed by policy: admin install, blocked from the first navigation, policy applied', async () => {
  const s = await openScenario('force-install', {
    forceInstall: true,
    // The hardening baseline's NetworkPredictionOptions = 2. Without it, a navigation in the first
    // moments after install — before the worker has turned prediction off — was measured to open
    // two TLS connections with the blocked host's SNI (the redirect itself still held).
    chromePolicies: { NetworkPredictionOptions: 2 },
    policy: { categories: { webmail: { mode: 'monitor' } } },
    host: hostAvailable(),
    sentinelHosts: ['www.dropbox.com'],
  });
  try {
    const worker = await s.worker();
    // First navigation as soon as the worker exists: the bootstrap ruleset is in force from install.
    const first = await s.visit(DROPBOX);
    assert.equal(first.url, s.blockUrl(DROPBOX));
    const self = await worker.evaluate(() => chrome.management.getSelf());
    assert.equal(self.installType, 'admin');
    assert.equal(self.mayDisable, false, 'users cannot turn it off');
    assert.ok(s.web.requests.some((r) => r.url === '/gatehouse/gatehouse.crx'), 'installed from the policy update URL');

    const st = await s.waitForEnforced((x) => x.policy?.source === 'managed', 'the managed policy');
    assert.match(st.prediction, /^(off|not controllable)/, 'network prediction is off, by the baseline policy');
    const mail = await s.visit(GMAIL);
    assert.equal(mail.url, GMAIL, 'monitor mode from the managed policy');
    const again = await s.visit(DROPBOX);
    assert.equal(await blockPageReady(again.page), 'ready');
    assert.deepEqual(s.sentinel.connections, [], 'the blocked host was never contacted');
  } finally {
    await s.close();
  }
});
