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

import init, { Engine, catalogue, loadBroadTier } from './wasm/gatehouse_core.js';
import { checker } from './js/check.js';
import { alarms, disableNetworkPrediction, safe, storage, tabs } from './js/ext.js';
import { createAudit } from './js/audit-queue.js';
import { createCatalogue } from './js/catalogue.js';
import { createDesk } from './js/desk.js';
import { createEnforcement } from './js/enforcement.js';
import { createHostFacts } from './js/facts.js';
import { createHostClient } from './js/host.js';
import { createNavigationWatch } from './js/navigation.js';
import { checkAtStart } from './js/integrity.js';
import { loadPolicy } from './js/policy.js';
import { BOOTSTRAP_RULESET } from './js/rules.js';
import { createPageMessages } from './js/pages.js';
import { createProceeds } from './js/proceeds.js';
import { createRevocations } from './js/revocations.js';
import { createSiteData } from './js/sitedata.js';
import { reloadWebTabs } from './js/tabs.js';

const ALARM = Object.freeze({
  network: 'gatehouse.network',
  approvals: 'gatehouse.approvals',
  integrity: 'gatehouse.integrity',
  recompile: 'gatehouse.recompile',
  hostRetry: 'gatehouse.hostRetry',
  desk: 'gatehouse.desk',
  revocations: 'gatehouse.revocations',
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
  /** The broad tier handed to the engine: {loaded, hosts} or {loaded: false, error}. */
  broadTier: null,
  /** The approval desk's revocation list: the last fetch and what came of it (js/revocations.js). */
  revocationList: null,
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

// `facts` is made below, after `recompile`; the port cannot end before the first request.
const host = createHostClient({ onDisconnect: (error) => facts.lost(error) });
const auditTrail = createAudit({
  send: (events) => host.request('audit', { events }),
  connected: () => state.host.status === 'connected',
});
const audit = auditTrail.record;
const catalogues = createCatalogue({ catalogue, loadBroadTier });
const proceeds = createProceeds({ state });
const siteData = createSiteData({ audit, catalogue: catalogues.curated });
/** The wasm instance's exports (for its memory size on the status page). */
let wasm = null;
/** The hot call, `check(engine, url, type, nowMs)` (js/check.js), once the module is loaded. */
let check = null;
const { engine, decide, recompile, checkRulesInForce, rulesStale, blockUrl } = createEnforcement({
  state, blockPage: BLOCK_PAGE, audit, auditLocation, siteData, loadProceeds: proceeds.load,
  schedule: (whenMs) => (whenMs == null ? alarms.clear(ALARM.recompile) : alarms.set(ALARM.recompile, { when: whenMs })),
});
const facts = createHostFacts({
  state, host, probeHosts: () => policyInfo()?.probeHosts ?? [], flushAudit: () => auditTrail.flush(), recompile, whenReady, retryAlarm: ALARM.hostRetry,
});
const desk = createDesk({ importToken: facts.importToken, refreshApprovals: facts.refreshApprovals, recompile, audit, alarm: ALARM.desk });
const revocations = createRevocations({ state, policyInfo, recompile, alarm: ALARM.revocations });
const onMessage = createPageMessages({
  state, engine, decide, policyInfo, serial, recompile, reloadPolicy, refreshFromHost: facts.refreshAll, refreshApprovals: () => facts.refreshApprovals(),
  saveProceeds: proceeds.save, audit, auditTrail, auditLocation, ready: () => ready, wasm: () => wasm, desk, pollDesk: desk.poll, importToken: facts.importToken,
});
const observeNavigation = createNavigationWatch({
  // null before a policy is loaded: nothing to classify with.
  verdictOf: (url, type) => (state.policy ? check(engine(), url, type, Date.now()) : null),
  rulesStale, catchUp: catchUpRules, audit, auditLocation, blockUrl, tabs, siteData,
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
self.addEventListener('online', () => facts.networkEvent('network online'));
self.addEventListener('offline', () => facts.networkEvent('network offline'));
navigator.connection?.addEventListener?.('change', () => facts.networkEvent('connection changed'));

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
    state.broadTier = await catalogues.loadBroad();
  } catch (err) {
    // Nothing below can work; the static and last dynamic rules stay in force (fail closed),
    // and at a browser start every web tab meets them again (a page that loaded before Chromium
    // had the rules in force must not stay up).
    state.engineError = `wasm engine failed to load: ${err?.message ?? err}`;
    console.error('gatehouse:', state.engineError);
    if (browserStart) state.tabs = await reloadWebTabs();
    return;
  }
  state.policy = await loadPolicy(Engine);
  await revocations.forPolicy();
  state.proceeds = await proceeds.load();
  await facts.refreshAll();
  await recompile('start', { force: browserStart });
  await storage.setSession({ [SESSION_STARTED_KEY]: Date.now() });
  const periodic = [[ALARM.network, NETWORK_REFRESH_MINUTES], [ALARM.approvals, APPROVALS_REFRESH_MINUTES], [ALARM.integrity, INTEGRITY_CHECK_MINUTES]];
  for (const [name, periodInMinutes] of periodic) {
    const existing = await safe('alarms.get', () => chrome.alarms.get(name), null);
    if (existing?.periodInMinutes !== periodInMinutes) await alarms.set(name, { periodInMinutes });
  }
  await desk.resume();
  state.readyMs = Date.now();
  // After ready: enforcement never waits for the desk (the kept list is already applied).
  whenReady('revocation list', revocations.refresh);
}

let queue = Promise.resolve();
/** Runs `task` after every task queued before it; resolves or rejects with its result. */
function serial(label, task) {
  // `() => task()`: the task gets no argument (not the previous task's result).
  const result = queue.then(() => task());
  queue = result.catch((err) => console.error(`gatehouse: ${label} failed:`, err));
  return result;
}

function whenReady(label, task) {
  return ready.then(() => (state.policy ? serial(label, task) : undefined));
}

async function onAlarm(alarm) {
  if (alarm.name === ALARM.network) return facts.refreshPeriodic('network');
  if (alarm.name === ALARM.approvals) return facts.refreshPeriodic('approvals');
  if (alarm.name === ALARM.integrity) return checkRulesInForce();
  if (alarm.name === ALARM.recompile) return recompile('scheduled change');
  if (alarm.name === ALARM.hostRetry) {
    if (await facts.refreshAll()) await recompile('host available');
    return undefined;
  }
  if (alarm.name === ALARM.desk) return desk.poll();
  if (alarm.name === ALARM.revocations) return revocations.refresh();
  return undefined;
}

// ---- policy ----------------------------------------------------------------------------------

async function reloadPolicy({ fromChange = false } = {}) {
  const before = state.policy?.engine;
  state.policy = await loadPolicy(Engine, { managedRemoved: fromChange });
  safeFree(before);
  await revocations.forPolicy();
  const probeHosts = policyInfo()?.probeHosts ?? [];
  if (state.host.status === 'connected' && probeHosts.length) await facts.refreshNetwork();
  await recompile('policy changed');
  audit({ kind: 'policy_loaded', source: state.policy.source, warnings: state.policy.warnings.length, error: state.policy.error });
  await revocations.refresh();
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

// ---- navigation ----------------------------------------------------------------------------

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

let catchingUp = false;
/** Recompiles now, once, when a navigation finds the rules stale (the alarm still runs later). */
function catchUpRules() {
  if (catchingUp || !rulesStale()) return;
  catchingUp = true;
  whenReady('change due', () => recompile('change due')).finally(() => { catchingUp = false; });
}
