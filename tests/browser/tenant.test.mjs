// Issue 12: tenant restrictions in a real browser. The policy's tenantRestrictions compile into
// modifyHeaders rules (wasm-core rules.rs); here the headers of every vendor it configures —
// Microsoft v1 and v2, Google, Slack, Dropbox — arrive at stand-ins for the vendors' sign-in
// servers exactly once and with the configured values, for a page and for a script's request
// alike; with no tenantRestrictions, none of them is sent.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openScenario } from './lib/harness.mjs';

const TENANTS = {
  google: { allowedDomains: ['dept.gov.hk', 'bureau.gov.hk'] },
  microsoft: {
    tenants: ['dept.onmicrosoft.com', 'dept.gov.hk'],
    context: '72f988bf-86f1-41af-91ab-2d7cd011db47',
    tenantAccessPolicy: '72f988bf-86f1-41af-91ab-2d7cd011db47:5e6a3a2c-7f5b-4c3e-9d2a-0b1c2d3e4f50',
  },
  slack: { workspaces: ['T0123ABCD', 'E0456EFGH'], requester: 'T0123ABCD' },
  dropbox: { teamIds: ['dbtid:AAAAteam1', 'dbtid:BBBBteam2'] },
};

const MICROSOFT = {
  'restrict-access-to-tenants': 'dept.onmicrosoft.com,dept.gov.hk',
  'restrict-access-context': TENANTS.microsoft.context,
  'sec-restrict-tenant-access-policy': TENANTS.microsoft.tenantAccessPolicy,
};

/** Each vendor's sign-in page and the headers it must receive. */
const SIGN_IN = [
  { url: 'https://accounts.google.com/ServiceLogin', headers: { 'x-googapps-allowed-domains': 'dept.gov.hk,bureau.gov.hk' } },
  { url: 'https://login.microsoftonline.com/common/oauth2/v2.0/authorize', headers: MICROSOFT },
  { url: 'https://login.live.com/login.srf', headers: MICROSOFT },
  { url: 'https://slack.com/signin', headers: { 'x-slack-allowed-workspaces': 'T0123ABCD,E0456EFGH', 'x-slack-allowed-workspaces-requester': 'T0123ABCD' } },
  { url: 'https://www.dropbox.com/login', headers: { 'x-dropbox-allowed-team-ids': 'dbtid:AAAAteam1,dbtid:BBBBteam2' } },
];
const ALL_HEADERS = new Set(SIGN_IN.flatMap((s) => Object.keys(s.headers)));

/** Monitor: the sign-in pages load (the categories' own verdicts are not what is tested here). */
const MONITORED = { webmail: { mode: 'monitor' }, cloud_storage: { mode: 'monitor' }, instant_messaging: { mode: 'monitor' } };

/** The raw header lines of `request` named `name` (Node joins repeats in `headers`; raw does not). */
function headerLines(request, name) {
  const lines = [];
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    if (request.rawHeaders[i].toLowerCase() === name) lines.push(request.rawHeaders[i + 1]);
  }
  return lines;
}

function requestTo(s, url) {
  const { host, pathname } = new URL(url);
  const found = s.web.requests.filter((r) => r.host === host && r.url.split('?')[0] === pathname);
  assert.equal(found.length, 1, `one request to ${url}: ${found.length}`);
  return found[0];
}

test('tenant restrictions configured: each vendor\'s headers reach its sign-in server once, with the configured values — pages and script requests', async () => {
  const s = await openScenario('tenant', { policy: { categories: MONITORED, tenantRestrictions: TENANTS }, host: false });
  try {
    const st = await s.waitForEnforced((x) => x.policy?.source === 'managed', 'the tenant policy in force');
    assert.deepEqual(st.policy.warnings ?? [], [], 'the policy parses without warnings');
    for (const signIn of SIGN_IN) {
      const { url, error } = await s.visit(signIn.url);
      assert.equal(url, signIn.url, `${signIn.url} loads (${error ?? 'no error'})`);
      const request = requestTo(s, signIn.url);
      for (const [name, value] of Object.entries(signIn.headers)) {
        assert.deepEqual(headerLines(request, name), [value], `${signIn.url}: ${name}`);
      }
      // No other vendor's header leaks to this one.
      for (const other of ALL_HEADERS) {
        if (!(other in signIn.headers)) assert.deepEqual(headerLines(request, other), [], `${signIn.url} must not get ${other}`);
      }
    }
    // A script's request (xmlhttprequest) carries them too, not only navigations.
    const page = (await s.visit('https://intranet.example/')).page;
    const target = 'https://login.microsoftonline.com/common/discovery/instance';
    await page.evaluate((u) => fetch(u, { mode: 'no-cors' }).catch(() => null), target);
    const deadline = Date.now() + 5000;
    while (!s.web.requests.some((r) => r.url.startsWith('/common/discovery')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const scripted = requestTo(s, target);
    for (const [name, value] of Object.entries(MICROSOFT)) assert.deepEqual(headerLines(scripted, name), [value], `fetch: ${name}`);
  } finally {
    await s.close();
  }
});

test('no tenant restrictions in the policy: none of the headers is sent', async () => {
  const s = await openScenario('tenant-none', { policy: { categories: MONITORED }, host: false });
  try {
    await s.waitForEnforced((x) => x.policy?.source === 'managed', 'the policy in force');
    for (const signIn of SIGN_IN) {
      const { url } = await s.visit(signIn.url);
      assert.equal(url, signIn.url);
      const request = requestTo(s, signIn.url);
      for (const name of ALL_HEADERS) assert.deepEqual(headerLines(request, name), [], `${signIn.url} must not get ${name}`);
    }
  } finally {
    await s.close();
  }
});
