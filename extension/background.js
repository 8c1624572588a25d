// Gatehouse service worker.
//
// Enforcement lives in declarativeNetRequest rules, which the browser applies whether or not this
// worker runs: the static `bootstrap` ruleset from install on, then the dynamic rules compiled by
// wasm-core from policy + identity + network facts + approvals. This worker keeps those rules
// current, explains decisions to the block and status pages, writes the audit trail through the
// native host, and redirects any main-frame navigation that a rule missed.
//
// Shape (after uBlock Origin Lite's background.js): every listener is registered synchronously
// below, before any await, so that an event which woke the worker is not lost; each listener
// waits on the one readiness promise `ready`; work that changes state runs one task at a time
// through `serial`. No top-level await: a module worker that awaits at top level never runs.

import init, { Engine, catalogue } from './wasm/gatehouse_core.js';
import { checker } from './js/check.js';
import { alarms, disableNetworkPrediction, safe, storage, tabs } from './js/ext.js';
import { createAudit } from './js/audit-queue.js';
import { createHostClient } from './js/host.js';
import { checkAtStart, checkInForce } from './js/integrity.js';
import { loadPolicy } from './js/policy.js';
import { BOOTSTRAP_RULESET, installRules } from './js/rules.js';
import { createPageMessages } from './js/pages.js';
import { createSiteData } from './js/sitedata.js';
import { recheckOpenTabs } from './js/tabs.js';

const ALARM = Object.freeze({
  network: 'gatehouse.network',
  approvals: 'gatehouse.approvals',
  integrity: 'gatehouse.integrity',
  recompile: 'gatehouse.recompile',
  hostRetry: 'gatehouse.hostRetry',
});
/**
 * How often network facts are re-read from the host: a desktop that joins the internal network
 * is in scope within this (Chrome fires no alarm sooner than 30 s), or at once where the worker
 * sees the network change (`online`/`offline`, `navigator.connection`).
 */
const NETWORK_REFRESH_MINUTES = 0.5;
/** How often approval tokens are re-read from the host. */
const APPROVALS_REFRESH_MINUTES = 5;
/** How often the rules in force are compared with the compiled ones (integrity.js). */
const INTEGRITY_CHECK_MINUTES = 5;
/** How soon to try the host again after it went away (alarms cannot fire sooner than 30 s). */
const HOST_RETRY_MINUTES = 1;
/** The first request to the host also starts it: allow for a cold process start. */
const HOST_HELLO_TIMEOUT_MS = 4000;
const PROCEEDS_KEY = 'gatehouse.proceeds';
/** Set in storage.session once this browser session's first worker start is done. */
const SESSION_STARTED_KEY = 'gatehouse.sessionStarted';
// The stable, extension-id URL, never runtime.getURL: under `use_dynamic_url` that returns a
// per-session address, and rules persisted with it would point at a dead page after a restart
// (ERR_BLOCKED_BY_CLIENT until the worker reinstalls). The extension's own redirects may target
// the stable URL; web pages still cannot load it (resilience.test.mjs › browser restart).
const BLOCK_PAGE = `chrome-extension://${chrome.runtime.id}/block.html`;

/** Everything derived at run time; reset piecewise, never replaced. */
const state = {
  startedMs: Date.now(),
  readyMs: null,
  engineError: null,
  policy: null, // {engine, source, error, savedMs, warnings}
  host: { status: 'unknown', hello: null, error: null, checkedMs: null },
  identity: null,
  network: null,
  tokens: [], // [{token, source, file}] as the host read them
  problems: [], // folders or files the host could not read
  approvals: [], // verifyApprovals results with ok: true
  rejected: [], // verifyApprovals results with ok: false
  proceeds: [], // warn-mode continues [{service, untilMs}], engine input like approvals
  compiled: null,
  /** The rules last installed, for the timer's comparison with what is in force. */
  expectedRules: null,
  /** integrity.js checkAtStart: what the worker found in force when it started. */
  integrity: null,
  /** The last re-check of open tabs and clearing of blocked sites' data. */
  tabs: null,
  siteData: null,
  /** When network facts were last asked for, and why out of turn (a network change event). */
  networkCheckedMs: null,
  networkEvent: null,
  prediction: null,
};

const host = createHostClient({ onDisconnect: onHostLost });
const auditTrail = createAudit({
  send: (events) => host.request('audit', { events }),
  connected: () => state.host.status === 'connected',
});
const audit = auditTrail.record;
const siteData = createSiteData({ audit, catalogue: () => safeCatalogue() });
/** The wasm instance's exports (for its memory size on the status page). */
let wasm = null;
/** The hot call, `check(engine, url, type, nowMs)` (js/check.js), once the module is loaded. */
let check = null;
const onMessage = createPageMessages({
  state, engine, decide, policyInfo, serial, recompile, reloadPolicy, refreshFromHost, refreshApprovals,
  saveProceeds, host, audit, auditTrail, auditLocation, ready: () => ready, wasm: () => wasm,
});

// ---- listeners: synchronous, top level ------------------------------------------------------

chrome.runtime.onInstalled.addListener(() => whenReady('installed', () => recompile('installed')));
// Without a listener here the worker would not start with the browser (see docs/browser-testing.md);
// the start itself is the module evaluation below.
chrome.runtime.onStartup.addListener(() => {});
chrome.storage.onChanged.addListener((changes, area) => {
  if (area === 'managed') whenReady('policy changed', () => reloadPolicy({ fromChange: true }));
});
chrome.alarms.onAlarm.addListener((alarm) => whenReady(`alarm ${alarm.name}`, () => onAlarm(alarm)));
chrome.webNavigation.onBeforeNavigate.addListener((d) => {
  ready.then(() => observeNavigation('before', d)).catch((e) => console.error('gatehouse: navigation', e));
});
chrome.webNavigation.onCommitted.addListener((d) => {
  ready.then(() => observeNavigation('committed', d)).catch((e) => console.error('gatehouse: navigation', e));
});
// Single-page apps move to a path-based service without a request the rules could see
// (x.com → /messages, www.icloud.com → /mail): history.pushState only reaches this event.
chrome.webNavigation.onHistoryStateUpdated.addListener((d) => {
  ready.then(() => observeNavigation('history', d)).catch((e) => console.error('gatehouse: navigation', e));
});
chrome.runtime.onMessage.addListener(onMessage);
// A network change is the moment scope may change: re-read the facts at once rather than at the
// next alarm (these fire only while the worker runs; the 30-second alarm covers the rest).
self.addEventListener('online', () => onNetworkEvent('network online'));
self.addEventListener('offline', () => onNetworkEvent('network offline'));
navigator.connection?.addEventListener?.('change', () => onNetworkEvent('connection changed'));

const ready = start();

// ---- start and the task queue ----------------------------------------------------------------

async function start() {
  // First, before anything can navigate: no speculative connections to blocked hosts, and none
  // of the rules in force that this worker did not install (integrity.js). storage.session
  // outlives a worker stopped when idle, not the browser: the first start of a session re-indexes.
  const session = storage.session(SESSION_STARTED_KEY).then((got) => !got[SESSION_STARTED_KEY]);
  const [prediction, integrity, browserStart] = await Promise.all([
    disableNetworkPrediction(),
    checkAtStart({ bootstrap: BOOTSTRAP_RULESET, reindex: session }),
    session,
  ]);
  state.prediction = prediction;
  state.integrity = integrity;
  if (integrity.status === 'repaired') {
    audit({ kind: 'rules_repaired', phase: 'start', installed: integrity.installed, expected: integrity.expected, difference: integrity.difference });
  }
  try {
    wasm = await init({ module_or_path: chrome.runtime.getURL('wasm/gatehouse_core_bg.wasm') });
    check = checker(wasm, Engine);
  } catch (err) {
    // Nothing below can work; the static and last dynamic rules stay in force (fail closed).
    state.engineError = `wasm engine failed to load: ${err?.message ?? err}`;
    console.error('gatehouse:', state.engineError);
    return;
  }
  state.policy = await loadPolicy(Engine);
  state.proceeds = await loadProceeds();
  await refreshFromHost();
  await recompile('start', { force: browserStart });
  await storage.setSession({ [SESSION_STARTED_KEY]: Date.now() });
  const periodic = [[ALARM.network, NETWORK_REFRESH_MINUTES], [ALARM.approvals, APPROVALS_REFRESH_MINUTES], [ALARM.integrity, INTEGRITY_CHECK_MINUTES]];
  for (const [name, periodInMinutes] of periodic) {
    const existing = await safe('alarms.get', () => chrome.alarms.get(name), null);
    if (existing?.periodInMinutes !== periodInMinutes) await alarms.set(name, { periodInMinutes });
  }
  state.readyMs = Date.now();
}

function safeCatalogue() {
  try {
    return catalogue();
  } catch (err) {
    console.error('gatehouse: catalogue', err);
    return null;
  }
}

let queue = Promise.resolve();
/** Runs `task` after every task queued before it; resolves or rejects with its result. */
function serial(label, task) {
  const result = queue.then(task);
  queue = result.catch((err) => console.error(`gatehouse: ${label} failed:`, err));
  return result;
}

function whenReady(label, task) {
  return ready.then(() => (state.policy ? serial(label, task) : undefined));
}

async function onAlarm(alarm) {
  if (alarm.name === ALARM.network) return refreshPeriodic('network');
  if (alarm.name === ALARM.approvals) return refreshPeriodic('approvals');
  if (alarm.name === ALARM.integrity) return checkRulesInForce();
  if (alarm.name === ALARM.recompile) return recompile('scheduled change');
  if (alarm.name === ALARM.hostRetry) {
    if (await refreshFromHost()) await recompile('host available');
    return undefined;
  }
  return undefined;
}

// ---- policy ----------------------------------------------------------------------------------

async function reloadPolicy({ fromChange = false } = {}) {
  const before = state.policy?.engine;
  state.policy = await loadPolicy(Engine, { managedRemoved: fromChange });
  safeFree(before);
  const probeHosts = policyInfo()?.probeHosts ?? [];
  if (state.host.status === 'connected' && probeHosts.length) await refreshNetwork();
  await recompile('policy changed');
  audit({ kind: 'policy_loaded', source: state.policy.source, warnings: state.policy.warnings.length, error: state.policy.error });
}

function safeFree(engine) {
  try { engine?.free?.(); } catch { /* already freed */ }
}

function policyInfo() {
  try {
    return state.policy?.engine.policyInfo() ?? null;
  } catch (err) {
    console.error('gatehouse: policyInfo', err);
    return null;
  }
}

// ---- the native host -------------------------------------------------------------------------

/** The one place that handles the host going away: everything learnt from it is dropped. */
function onHostLost(error) {
  state.host = { status: 'unavailable', hello: null, error: error?.toJSON?.() ?? { message: String(error) }, checkedMs: Date.now() };
  state.identity = null;
  state.network = null;
  state.tokens = [];
  state.problems = [];
  state.approvals = [];
  state.rejected = [];
  alarms.set(ALARM.hostRetry, { delayInMinutes: HOST_RETRY_MINUTES });
  whenReady('host lost', () => recompile('host unavailable'));
}

/** Asks the host for everything; returns whether it answered. Never throws. */
async function refreshFromHost() {
  let hello;
  try {
    hello = await host.request('hello', { extension: chrome.runtime.getManifest().version }, { timeout: HOST_HELLO_TIMEOUT_MS });
  } catch (err) {
    if (host.connected) {
      // Answered with an error or not at all: treat it as gone, through the one handler.
      host.close();
      onHostLost(err);
    }
    return false;
  }
  state.host = { status: 'connected', hello, error: null, checkedMs: Date.now() };
  await alarms.clear(ALARM.hostRetry);
  const [identity] = await Promise.allSettled([host.request('identity'), refreshNetwork(), refreshApprovals()]);
  if (identity.status === 'fulfilled') {
    state.identity = identity.value;
  } else {
    state.identity = null;
    state.host.factErrors = { ...state.host.factErrors, identity: identity.reason?.toJSON?.() ?? String(identity.reason) };
  }
  await auditTrail.flush();
  return true;
}

/** Re-reads network facts; returns whether they changed. */
async function refreshNetwork() {
  const probeHosts = policyInfo()?.probeHosts ?? [];
  state.networkCheckedMs = Date.now();
  try {
    const network = await host.request('network', { probeHosts });
    const changed = JSON.stringify(network) !== JSON.stringify(state.network);
    state.network = network;
    return changed;
  } catch (err) {
    state.host.factErrors = { ...state.host.factErrors, network: err?.toJSON?.() ?? String(err) };
    const changed = state.network !== null;
    state.network = null;
    return changed;
  }
}

/** Re-reads approval tokens; returns whether they changed. */
async function refreshApprovals() {
  try {
    const reply = await host.request('approvals');
    const tokens = Array.isArray(reply?.tokens) ? reply.tokens : [];
    const changed = JSON.stringify(tokens) !== JSON.stringify(state.tokens);
    state.tokens = tokens;
    state.problems = Array.isArray(reply?.problems) ? reply.problems : [];
    return changed;
  } catch (err) {
    state.host.factErrors = { ...state.host.factErrors, approvals: err?.toJSON?.() ?? String(err) };
    const changed = state.tokens.length > 0;
    state.tokens = [];
    return changed;
  }
}

/** The network facts (every 30 s) or the approval tokens (every 5 minutes), again. */
async function refreshPeriodic(what) {
  if (state.host.status !== 'connected') {
    if (await refreshFromHost()) await recompile('host available');
    return;
  }
  if (what === 'network' && (await refreshNetwork())) await recompile('network changed');
  if (what === 'approvals' && (await refreshApprovals())) await recompile('approvals changed');
}

/** How long a burst of network events (offline, connection change, online) has to settle. */
const NETWORK_EVENT_SETTLE_MS = 1000;
let networkEventTimer = null;
/** A network change event: one re-read of the facts once the burst has settled (the last event
 * — typically "online", the one that matters — always gets its re-read). */
function onNetworkEvent(reason) {
  clearTimeout(networkEventTimer);
  networkEventTimer = setTimeout(() => whenReady(reason, () => refreshNetworkNow(reason)), NETWORK_EVENT_SETTLE_MS);
}

async function refreshNetworkNow(reason) {
  state.networkEvent = { reason, atMs: Date.now() };
  if (state.host.status !== 'connected') {
    if (await refreshFromHost()) await recompile('host available');
  } else if (await refreshNetwork()) {
    await recompile(reason);
  }
}

// ---- compiling and installing rules ----------------------------------------------------------

function context(nowMs = Date.now()) {
  return {
    identity: state.identity,
    network: state.network,
    nowMs,
    approvals: state.approvals.map((r) => r.approval),
    proceeds: state.proceeds,
  };
}

let pushed = {};
/**
 * The engine, with the context set once per change rather than converted on every call: the
 * facts are replaced, never mutated, so comparing references finds every change.
 */
function engine() {
  const e = state.policy.engine;
  const facts = { engine: e, identity: state.identity, network: state.network, approvals: state.approvals, proceeds: state.proceeds };
  if (Object.keys(facts).some((k) => pushed[k] !== facts[k])) {
    e.setContext(context());
    pushed = facts;
  }
  return e;
}

/** Verifies the host's tokens against the current policy, identity and time. */
function verifyApprovals(nowMs) {
  state.approvals = [];
  state.rejected = [];
  if (state.tokens.length) {
    try {
      const results = state.policy.engine.verifyApprovals(state.tokens, state.identity, nowMs);
      for (const r of results) (r.ok ? state.approvals : state.rejected).push(r);
    } catch (err) {
      state.rejected = [{ ok: false, reason: 'verify_failed', message: String(err?.message ?? err) }];
    }
  }
  // Log each rejection once (recompiles repeat the verification).
  const keys = new Set(state.rejected.map((r) => `${r.file ?? ''}\u0000${r.reason}`));
  for (const r of state.rejected) {
    const key = `${r.file ?? ''}\u0000${r.reason}`;
    if (!reportedRejections.has(key)) audit({ kind: 'token_rejected', reason: r.reason, message: r.message, source: r.source, file: r.file ?? null });
  }
  reportedRejections = keys;
}
let reportedRejections = new Set();

async function recompile(reason, { force = false } = {}) {
  if (!state.policy) return;
  const nowMs = Date.now();
  verifyApprovals(nowMs);
  // storage.session is the record of the continues (the worker may have slept); ended ones drop.
  state.proceeds = await loadProceeds();
  let compiled;
  try {
    compiled = engine().compileRules(nowMs, BLOCK_PAGE);
  } catch (err) {
    // The rules in force stay in force.
    state.compiled = { atMs: nowMs, reason, error: `compile failed: ${err?.message ?? err}` };
    return;
  }
  const install = await installRules(compiled, { force });
  if (install.ok) state.expectedRules = compiled.rules;
  if (install.repaired) audit({ kind: 'rules_repaired', phase: reason, ...install.repaired });
  state.compiled = {
    atMs: nowMs,
    reason,
    rules: compiled.rules.length,
    stats: compiled.stats,
    disableBootstrap: compiled.disableBootstrap,
    nextChangeMs: compiled.nextChangeMs,
    install,
  };
  if (compiled.nextChangeMs != null) {
    // A second late rather than early, so that the recompile sees the new day or the expiry.
    await alarms.set(ALARM.recompile, { when: compiled.nextChangeMs + 1000 });
  } else {
    await alarms.clear(ALARM.recompile);
  }
  await verdictsChanged();
}

/**
 * What the rules cannot reach once the verdicts change: open tabs of now-stopped services, and
 * service workers and caches of now-blocked origins (js/tabs.js, js/sitedata.js).
 */
async function verdictsChanged() {
  state.tabs = await recheckOpenTabs({ stopped: stoppedVerdict, blockUrl, audit });
  state.siteData = await siteData.clearBlocked((url) => decide(url, 'main_frame').action === 'block');
}

/** The audit fields of `url`'s verdict when a frame there must not stay open, else null. */
async function stoppedVerdict(url, type) {
  let verdict;
  try {
    verdict = decide(url, type);
  } catch {
    return null;
  }
  if (verdict.action !== 'block' && verdict.action !== 'warn') return null;
  return { action: verdict.action, reason: verdict.reason, category: verdict.category, service: verdict.service?.id ?? null, ...auditLocation(url) };
}

/** The timer's half of integrity.js: the rules in force against the last compile. */
async function checkRulesInForce() {
  const found = await checkInForce({
    expected: state.expectedRules,
    sessionRuleIds: [],
    bootstrap: BOOTSTRAP_RULESET,
    bootstrapOn: state.compiled?.install?.ok ? !state.compiled.disableBootstrap : null,
  });
  if (!found.length) return;
  audit({ kind: 'rules_repaired', phase: 'timer', found });
  if (found.some((f) => f.ruleset === 'dynamic')) await recompile('rules repaired', { force: true });
}

// ---- navigation: audit trail and the safety net ----------------------------------------------

function decide(url, resourceType) {
  return engine().decide(url, resourceType, Date.now());
}

/**
 * Origin only, unless the policy asks for full URLs in the audit trail. The host reduces `url`
 * to its origin itself unless the event says `fullUrl: true` (native-host/PROTOCOL.md `audit`).
 */
function auditLocation(url) {
  if (policyInfo()?.auditFullUrl) return { url, fullUrl: true };
  try {
    return { origin: new URL(url).origin };
  } catch {
    return { origin: null };
  }
}

function blockUrl(url) {
  return `${BLOCK_PAGE}#${url}`;
}

/**
 * Whether the installed rules are out of date: a change they were compiled to expect (an approval
 * ends or starts, a new day) has fallen due and the recompile alarm has not run yet — Chrome may
 * delay alarms, and fires none sooner than 30 s after it was set for a packed extension.
 */
function rulesStale(nowMs = Date.now()) {
  const next = state.compiled?.nextChangeMs;
  return next != null && nowMs >= next;
}

let catchingUp = false;
/** Recompiles now, once, when a navigation finds the rules stale (the alarm still runs later). */
function catchUpRules() {
  if (catchingUp || !rulesStale()) return;
  catchingUp = true;
  whenReady('change due', () => recompile('change due')).finally(() => { catchingUp = false; });
}

async function observeNavigation(phase, details) {
  if (!state.policy) return;
  const stale = rulesStale();
  catchUpRules();
  const main = details.frameId === 0;
  let verdict;
  try {
    // null: not a web URL, or not categorised — Gatehouse does not apply.
    verdict = check(engine(), details.url, main ? 'main_frame' : 'sub_frame', Date.now());
  } catch {
    return; // not a URL the engine can parse: nothing to classify.
  }
  if (!verdict) return;
  const base = {
    action: verdict.action,
    reason: verdict.reason,
    category: verdict.category,
    service: verdict.service?.id ?? null,
    rule: verdict.matchedRule,
    approval: verdict.approval?.id ?? null,
    frame: main ? 'main' : 'sub',
    ...auditLocation(details.url),
  };
  const stopped = verdict.action === 'block' || verdict.action === 'warn';
  if (phase === 'before') {
    // The rule redirects (or blocks) this request; record the attempt.
    if (stopped) audit({ kind: verdict.action === 'block' ? 'blocked' : 'warned', ...base });
    // Stale rules let this request through (e.g. an approval just ended): do not wait for it to
    // commit.
    if (stale && main && verdict.action === 'block') await tabs.update(details.tabId, { url: blockUrl(details.url) });
    return;
  }
  if (stopped) {
    // A categorised page committed although the verdict stops it: a rule missed (a page restored
    // from the back/forward cache never reaches the network, where the rules act), or a
    // single-page app changed its path in place.
    audit({ kind: phase === 'history' ? 'in_page_navigation' : 'rule_miss', ...base });
    if (main) await tabs.update(details.tabId, { url: blockUrl(details.url) });
    return;
  }
  audit({ kind: 'loaded', ...base });
  siteData.seen(details.url);
}

// ---- warn mode: "continue" -------------------------------------------------------------------

/** The continues of this browser session still running (storage.session outlives the worker). */
async function loadProceeds() {
  const list = (await storage.session(PROCEEDS_KEY))[PROCEEDS_KEY];
  const now = Date.now();
  return Array.isArray(list) ? list.filter((p) => typeof p?.service === 'string' && p.untilMs > now) : [];
}

async function saveProceeds(list) {
  state.proceeds = list;
  await storage.setSession({ [PROCEEDS_KEY]: list });
}
