// The differential test of issue 9: for every catalogue (and policy) pattern × spelling variant ×
// resource type, the engine's verdict (`decide`, in Rust) equals what Chromium does with the rules
// the extension installed — judged by Chromium itself (declarativeNetRequest.testMatchOutcome),
// and for a sample of spellings by real requests from an allowed page, counted at the stand-in
// servers (HTTP requests and TCP/TLS connections, preconnects included).
//
// The cases come from a generator (wasm-core/tests/integration/spellings.rs), not a hand list;
// a count guard fails the test if it shrinks.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openScenario } from './lib/harness.mjs';
import { browserVerdicts, generate, isBlockPage } from './lib/differential.mjs';
import { sendFrom, settle, socketUrl } from './lib/probes.mjs';

/** Fewer cases than this means the generator lost patterns, spellings or resource types. */
const MIN_CASES = 80_000;

/** Every kind of rule: a monitored category, allowlisted hosts and paths, exact and path patterns of the policy's own. */
const MIXED_POLICY = {
  categories: { instant_messaging: { mode: 'monitor' } },
  allowlist: ['drive.google.com', '=www.126.com', 'dropbox.com/team', 'service:mega'],
  rules: [
    { category: 'webmail', service: 'portal', match: ['portal.example', '=exact.example', 'files.example/upload/v2'] },
    { category: 'instant_messaging', service: 'ok_chat', match: ['ok.portal.example'] },
  ],
};

/** Patterns and spellings sent for real (each as main frame, subframe, fetch, WebSocket, form POST). */
const NETWORK_PATTERNS = ['=126.com', 'facebook.com/messages', 'web.telegram.org', 'x.com/i/chat', '=paper-attachments.s3.amazonaws.com'];
const NETWORK_SPELLINGS = ['plain', 'trailing dot', 'uppercase', 'port', '%-encoded path', '%-encoded uppercase letter', 'proxy',
  'proxy subdomain', '?u=', '?u= encoded', 'label lookalike', 'suffix lookalike', 'path lookalike', 'other path', 'proxy even dashes'];

async function differential(name, policy, t) {
  const blockPage = `chrome-extension://${(await import('./lib/harness.mjs')).EXTENSION_ID}/block.html`;
  const generated = generate(policy, blockPage);
  const cases = generated.cases;
  // The real-network sample: main frames only once per URL, the other kinds from an allowed page.
  const sample = new Map();
  for (const c of cases) {
    if (c.type === 'main_frame' && NETWORK_PATTERNS.includes(c.pattern) && NETWORK_SPELLINGS.includes(c.spelling)) {
      sample.set(c.url, c);
    }
  }
  const hostOf = (url) => new URL(url).hostname.replace(/\.$/, '');
  const blockedHosts = new Set([...sample.values()].filter((c) => c.blocked).map((c) => hostOf(c.url)));
  const allowedHosts = new Set([...sample.values()].filter((c) => !c.blocked).map((c) => hostOf(c.url)));
  // A host both blocked and allowed (different paths) cannot go to the silent sentinel server.
  const sentinelHosts = [...blockedHosts].filter((h) => !allowedHosts.has(h));

  const s = await openScenario(`differential-${name}`, {
    policy,
    host: false,
    sentinelHosts: sentinelHosts.flatMap((h) => [h, `${h}.`]),
  });
  try {
    await s.waitFor((st) => st.readyMs && st.prediction === 'off' && st.compiled?.atMs >= (st.policy?.loadedMs ?? 0)
      && (policy === null || st.policy?.source === 'managed'), 'the worker ready, the policy compiled and installed');
    const worker = await s.worker();
    const installed = await worker.evaluate(() => chrome.declarativeNetRequest.getDynamicRules());
    assert.equal(installed.length, generated.rules.rules.length, 'every compiled rule is installed');
    assert.deepEqual(JSON.parse(JSON.stringify(installed)).map((r) => r.id), generated.rules.rules.map((r) => r.id));

    const started = Date.now();
    const verdicts = await browserVerdicts(s, cases);
    const wrong = [];
    const errors = [];
    cases.forEach((c, i) => {
      const v = verdicts[i];
      if (v.error) errors.push(`${c.type} ${c.method} ${c.url}: ${v.error}`);
      else if (v.blocked !== c.blocked) wrong.push(`${c.type} ${c.method} ${c.url} (${c.spelling} of ${c.pattern}): engine ${c.blocked ? 'blocks' : 'allows'}, Chromium ${v.blocked ? 'blocks' : 'allows'} [${v.rules.join(' ')}]`);
    });
    const blocked = cases.filter((c) => c.blocked).length;
    t.diagnostic(`${name}: ${cases.length} cases (${blocked} blocked by the engine), ${wrong.length} disagreements, ${errors.length} errors; ${installed.length} rules installed; testMatchOutcome took ${Date.now() - started} ms`);
    console.log(`differential ${name}: ${cases.length} cases, ${wrong.length} disagreements, ${errors.length} errors, ${installed.length} rules`);
    assert.deepEqual(errors.slice(0, 20), [], `${errors.length} cases Chromium could not evaluate`);
    assert.deepEqual(wrong.slice(0, 30), [], `${wrong.length} of ${cases.length} cases disagree`);
    assert.ok(cases.length >= MIN_CASES, `the generator produced only ${cases.length} cases`);
    assert.ok(blocked * 4 >= cases.length && blocked < cases.length, 'both verdicts are well represented');

    // Real requests: each sampled URL as main frame, subframe, fetch, WebSocket and form POST.
    s.sentinel.reset();
    const page = (await s.visit('https://intranet.example/start')).page;
    const reached = [];
    for (const c of sample.values()) {
      const kinds = ['sub_frame', 'fetch', 'form_post'];
      for (const kind of kinds) await sendFrom(page, kind, c.url);
      await sendFrom(page, 'websocket', socketUrl(c.url));
      const main = await s.visit(c.url);
      const onBlockPage = isBlockPage(main.url);
      await main.page.close();
      if (onBlockPage !== c.blocked) reached.push(`main frame ${c.url}: engine ${c.blocked ? 'blocks' : 'allows'}, landed on ${main.url}`);
    }
    await settle(1500);
    for (const c of sample.values()) {
      const host = hostOf(c.url);
      const requests = [...s.web.requests, ...s.sentinel.requests].filter((r) => r.host.replace(/\.$/, '') === host);
      const tls = [...s.web.connections, ...s.sentinel.connections].filter((x) => (x.sni ?? '').replace(/\.$/, '') === host);
      if (c.blocked && sentinelHosts.includes(host) && (requests.length || tls.length)) {
        reached.push(`${c.url}: ${requests.length} requests, ${tls.length} TLS connections reached the blocked host`);
      }
      // A host with allowed paths too is not silent; its blocked URLs must still never arrive.
      const { pathname, search } = new URL(c.url);
      if (c.blocked && requests.some((r) => r.url === pathname + search)) {
        reached.push(`${c.url}: the blocked URL reached the server`);
      }
      if (!c.blocked && (requests.length === 0 || tls.length === 0)) {
        reached.push(`${c.url}: allowed, yet ${requests.length} requests and ${tls.length} TLS connections arrived`);
      }
    }
    const silent = s.sentinel.connections.length;
    t.diagnostic(`${name}: ${sample.size} URLs sent for real × 5 kinds; sentinel saw ${silent} connections, ${s.sentinel.requests.length} requests`);
    assert.deepEqual(reached, [], 'real requests agree with the engine');
    assert.equal(silent, 0, `no connection at all (preconnects included) reached the blocked hosts: ${JSON.stringify(s.sentinel.connections.slice(0, 5))}`);
    assert.ok(sample.size >= 40, `the network sample has ${sample.size} URLs`);
  } finally {
    await s.close();
  }
}

test('embedded default policy: rules and engine agree on every spelling', async (t) => {
  await differential('default', null, t);
});

test('a policy with monitor, allowlist, exact and path rules: rules and engine agree on every spelling', async (t) => {
  await differential('mixed', MIXED_POLICY, t);
});
