// The shared decision fixtures against the wasm build, exactly as the native runner
// (wasm-core/tests/fixtures.rs) reads them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { loadEngine } from './engine.mjs';

const fixtures = JSON.parse(await readFile(new URL('../fixtures/decisions.json', import.meta.url), 'utf8'));
const wasm = await loadEngine();

test('decision fixtures', () => {
  const engines = new Map();
  const engineFor = (name) => {
    if (!engines.has(name)) {
      const engine = name ? new wasm.Engine(JSON.stringify(fixtures.policies[name])) : wasm.Engine.embeddedDefault();
      assert.deepEqual(engine.warnings(), [], `policy ${name}`);
      engines.set(name, engine);
    }
    return engines.get(name);
  };
  const failures = [];
  fixtures.cases.forEach((c, i) => {
    const context = c.context ? fixtures.contexts[c.context] : { nowMs: 1800000000000 };
    const verdict = engineFor(c.policy).decide(c.url, c.resourceType ?? 'main_frame', context);
    for (const [key, want] of Object.entries(c.expect)) {
      const got = key === 'service' ? (verdict.service?.id ?? null) : verdict[key];
      if (JSON.stringify(got) !== JSON.stringify(want)) failures.push(`case ${i} (${c.url}): ${key} = ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    }
  });
  assert.deepEqual(failures, []);
  assert.equal(fixtures.cases.length, fixtures.caseCount, 'fixture file shrank');
});

test('unusable policies and bad input throw specific errors', () => {
  assert.throws(() => new wasm.Engine('{'), /policy is not valid JSON/);
  assert.throws(() => new wasm.Engine('[]'), /policy must be a JSON object, found an array/);
  const engine = wasm.Engine.embeddedDefault();
  assert.throws(() => engine.decide('not a url', 'main_frame', { nowMs: 0 }), /is not a valid URL/);
  assert.throws(() => engine.decide('https://a.example/', 'frame', { nowMs: 0 }), /is not a resource type/);
  assert.throws(() => engine.decide('https://a.example/', 'main_frame', { nowMs: 'soon' }), /invalid context/);
});

test('warnings carry JSON paths', () => {
  const engine = new wasm.Engine(JSON.stringify({ categories: { webmail: { mode: 'blok' } }, allowlist: [7] }));
  assert.deepEqual(engine.warnings().map((w) => w.path), ['$.categories.webmail.mode', '$.allowlist[0]']);
  const verdict = engine.decide('https://mail.google.com/', 'main_frame', { nowMs: 0 });
  assert.equal(verdict.action, 'block', 'a bad mode fails closed');
});

test('rules compile identically in wasm and carry the block page', () => {
  const engine = wasm.Engine.embeddedDefault();
  const page = 'chrome-extension://abcdefghijklmnopabcdefghijklmnop/block.html';
  const a = engine.compileRules({ nowMs: 0 }, page);
  const b = engine.compileRules({ nowMs: 0 }, page);
  assert.equal(JSON.stringify(a), JSON.stringify(b));
  assert.ok(a.rules.length > 0 && a.disableBootstrap === true && a.overflow.length === 0);
  const redirect = a.rules.find((r) => r.action.type === 'redirect');
  assert.equal(redirect.action.redirect.regexSubstitution, `${page}#\\0`);
  // The static bootstrap ruleset: the whole-host part of the same rules, few and cheap to load.
  const boot = wasm.bootstrapRules(page);
  assert.ok(boot.length <= 10, `${boot.length} bootstrap rules`);
  assert.ok(boot.every((r) => (r.condition.regexFilter ?? '^.+$') === '^.+$'), 'no path or spelling regex in the bootstrap');
  const compiled = new Set(a.rules.flatMap((r) => r.condition.requestDomains ?? []));
  assert.ok(boot.every((r) => r.condition.requestDomains.every((d) => compiled.has(d))), 'a subset of the compiled rules');
});

test('policy info, scope and catalogue for the pages', () => {
  const engine = new wasm.Engine(JSON.stringify({
    blockPage: { department: { en: 'Digital Policy Office', zh_TW: '數字政策辦公室' }, contact: 'ext. 1234' },
    requests: { mail: 'approvals@dept.example', maxDays: 30 },
    scope: { network: { resolves: ['intranet.dept.example'] } },
  }));
  const info = engine.policyInfo();
  assert.equal(info.department.zh_TW, '數字政策辦公室');
  assert.equal(info.requests.mail, 'approvals@dept.example');
  assert.equal(info.requests.maxDays, 30);
  assert.deepEqual(info.probeHosts, ['intranet.dept.example']);
  assert.equal(info.categories.webmail.mode, 'block');
  assert.equal(engine.scope({ nowMs: 0 }).reason, 'facts_unknown');
  const catalogue = wasm.catalogue();
  assert.ok(catalogue.length >= 80);
  assert.ok(catalogue.every((s) => s.id && s.name.en && s.name.zh_TW && s.patterns?.length !== 0));
});

// The calls the service worker makes: the context set once, then only URL, type and time.
test('setContext, check, explain and proceed: the shared-host continue', async () => {
  const { REASONS } = await import('../../extension/js/reasons.js');
  assert.deepEqual(wasm.Engine.reasonCodes(), REASONS, 'extension/js/reasons.js mirrors the engine');
  const NOW = 1800000000000;
  const engine = new wasm.Engine(JSON.stringify({ categories: { instant_messaging: { mode: 'warn' } }, warn: { proceedMinutes: 5 } }));
  engine.setContext({});
  assert.equal(engine.check('https://example.org/', 'main_frame', NOW), null, 'uncategorised: null');
  assert.equal(engine.check('chrome://settings', 'main_frame', NOW), null, 'not web: null');
  const chat = 'https://mail.google.com/chat/u/0/';
  assert.equal(engine.check(chat, 'main_frame', NOW).reason, 'warned');
  // The same verdict for another URL is the same frozen object (built once per context).
  const first = engine.check(chat, 'main_frame', NOW);
  assert.equal(engine.check(`${chat}#chat/space/x`, 'main_frame', NOW), first);
  assert.ok(Object.isFrozen(first));
  assert.deepEqual(Object.keys(first).sort(), ['action', 'approval', 'category', 'inScope', 'matchedRule', 'reason', 'service']);
  assert.throws(() => engine.proceed('https://mail.google.com/mail/u/0/', NOW), /continuing is not possible: blocked/);
  const proceed = engine.proceed(chat, NOW);
  assert.deepEqual(proceed, { service: 'google_chat', untilMs: NOW + 300000 });
  engine.setContext({ proceeds: [proceed] });
  assert.equal(engine.check(chat, 'sub_frame', NOW).reason, 'proceeded');
  assert.equal(engine.decide('https://mail.google.com/mail/u/0/', 'main_frame', NOW).reason, 'blocked');
  const page = engine.explain('https://mail.google.com/mail/u/0/', NOW);
  assert.deepEqual([page.verdict.action, page.warnProceedMinutes, page.approvalNotes], ['block', 5, []]);
  assert.equal(page.requests.maxDays, engine.policyInfo().defaults.maxApprovalDays);
  const rules = engine.compileRules(NOW, 'chrome-extension://x/block.html');
  assert.equal(rules.nextChangeMs, proceed.untilMs);
  assert.ok(!rules.rules.some((r) => r.action.type === 'allow' && r.priority >= 1000), 'no host-wide allow');
  engine.free();
});

// extension/js/check.js moves the URL's bytes and nothing else: for every fixture URL, in every
// resource type, it answers exactly what the string call answers (the same frozen object).
test('the worker\'s buffer call answers exactly what engine.check answers', () => {
  const NOW = 1800000000000;
  const engine = wasm.Engine.embeddedDefault();
  engine.setContext({});
  const urls = [
    ...new Set(fixtures.cases.map((c) => c.url)),
    'https://mail.google.com/' + 'a'.repeat(9000), // longer than the buffer: the string call
    'https://bücher.example/ü?q=中文', // non-ASCII
    'https://mail.google.com:443/mail/', 'HTTPS://MAIL.GOOGLE.COM./mail', 'about:blank', 'chrome://settings',
    // check.js copies short ASCII URLs itself and hands the rest to TextEncoder: both sides of
    // each edge, a late non-ASCII character, a lone surrogate, the buffer exactly full.
    'https://mail.google.com/' + 'a'.repeat(136), 'https://mail.google.com/' + 'a'.repeat(137),
    'https://mail.google.com/mail/u/0/#inbox/ü', 'https://mail.google.com/\uD800', 'https://drive.google.com/\u007F',
    'https://mail.google.com/' + 'a'.repeat(8192 - 24), 'https://mail.google.com/' + 'a'.repeat(8193 - 24),
  ];
  let compared = 0;
  for (const type of wasm.Engine.resourceTypes()) {
    for (const url of urls) {
      let want;
      try { want = engine.check(url, type, NOW); } catch (err) { want = err; }
      if (want instanceof Error) {
        assert.throws(() => wasm.check(engine, url, type, NOW), { message: want.message }, url);
      } else {
        assert.equal(wasm.check(engine, url, type, NOW), want, `${type} ${url}`);
      }
      compared++;
    }
  }
  assert.equal(compared, urls.length * 15);
  assert.ok(urls.length > 50, `${urls.length} URLs`);
  assert.throws(() => wasm.check(engine, 'https://mail.google.com/', 'no_such_type', NOW), /no_such_type/);
  // A grown memory detaches old views: a big engine made now forces growth, then the first
  // engine is asked again.
  const before = wasm.memory.buffer.byteLength;
  const big = new wasm.Engine(JSON.stringify({ allowlist: Array.from({ length: 20000 }, (_, i) => `host${i}.example`) }));
  assert.ok(wasm.memory.buffer.byteLength > before, 'the memory grew');
  assert.equal(wasm.check(engine, 'https://mail.google.com/mail/u/0/', 'main_frame', NOW)?.reason, 'blocked');
  assert.equal(wasm.check(engine, 'https://example.org/', 'main_frame', NOW), null);
  big.free();
  engine.free();
});

// check.js reads verdicts from the engine's own array (`briefTable`), which the engine empties
// in place: after a context change, and when more distinct verdicts than it keeps were built.
test('the worker\'s buffer call follows the engine when its verdicts are rebuilt', () => {
  const NOW = 1800000000000;
  const hosts = Array.from({ length: 16_500 }, (_, i) => `site${i}.example`);
  const engine = new wasm.Engine(JSON.stringify({
    categories: { cloud_storage: { mode: 'warn' } },
    warn: { proceedMinutes: 5 },
    rules: [{ category: 'cloud_storage', service: 'many', name: { en: 'Many' }, match: hosts }],
  }));
  engine.setContext({});
  const url = (i) => `https://www.site${i}.example/x`;
  for (const i of [0, 1, 16_499]) {
    assert.equal(wasm.check(engine, url(i), 'main_frame', NOW).reason, 'warned');
  }
  const proceed = engine.proceed(url(1), NOW);
  engine.setContext({ proceeds: [proceed] });
  assert.equal(wasm.check(engine, url(1), 'main_frame', NOW).reason, 'proceeded', 'the new context');
  // More distinct verdicts (one per matched host) than the engine keeps: every answer is still
  // the engine's, before and after the array is emptied.
  for (let i = 0; i < hosts.length; i++) {
    const verdict = wasm.check(engine, url(i), 'main_frame', NOW);
    assert.equal(verdict.matchedRule, hosts[i], url(i));
    assert.equal(verdict, engine.check(url(i), 'main_frame', NOW), 'the same frozen object');
  }
  assert.ok(engine.briefTable().length < hosts.length, 'the engine keeps a bounded number');
  engine.free();
});

test('the broad tier: refused unless it is the file this build was made with, then classified', async () => {
  const text = await readFile(new URL('../../wasm-core/catalogue/broad.txt', import.meta.url), 'utf8');
  const before = wasm.Engine.embeddedDefault();
  assert.equal(before.policyInfo().broadTier.loaded, false);
  assert.equal(before.decide('https://www.yopmail.com/', 'main_frame', { nowMs: 0 }).reason, 'uncategorised');
  assert.throws(() => wasm.loadBroadTier(text.replace('yopmail.com\t', 'yopmail.example\t')), /broad tier refused: its SHA-512/);
  assert.throws(() => wasm.loadBroadTier(''), /broad tier refused/);
  assert.equal(wasm.Engine.embeddedDefault().policyInfo().broadTier.loaded, false, 'a refused file loads nothing');
  const hosts = wasm.loadBroadTier(text);
  assert.ok(hosts > 10_000, `${hosts} hosts`);
  const engine = wasm.Engine.embeddedDefault();
  assert.deepEqual(engine.policyInfo().broadTier, { loaded: true, hosts });
  const v = engine.decide('https://www.yopmail.com/', 'main_frame', { nowMs: 0 });
  assert.deepEqual([v.action, v.category, v.service?.id, v.matchedRule], ['block', 'webmail', 'yopmail.com', 'yopmail.com']);
  const off = new wasm.Engine(JSON.stringify({ categories: { webmail: { broad: false } } }));
  assert.equal(off.decide('https://www.yopmail.com/', 'main_frame', { nowMs: 0 }).reason, 'uncategorised');
  assert.equal(off.policyInfo().categories.webmail.broad, false);
  assert.deepEqual(engine.compileRules(0, 'chrome-extension://x/block.html').broadRulesets,
    ['broad_webmail', 'broad_cloud_storage', 'broad_instant_messaging', 'broad_circumvention']);
});
