// The engine with the worker's facts as its context, and the declarativeNetRequest rules compiled
// from it: verify the approval tokens, compile, install (rules.js), schedule the next change, and
// reach what rules cannot once verdicts change — open tabs (tabs.js), site data (sitedata.js).

import { BOOTSTRAP_RULESET, BROAD_RULESETS, installRules, syncBroadRulesets } from './rules.js';
import { dnr } from './ext.js';
import { checkInForce } from './integrity.js';
import { recheckOpenTabs } from './tabs.js';

/**
 * `state` is the worker's; `blockPage` the block page's stable URL; `loadProceeds()` the
 * continues still running; `schedule(whenMs | null)` sets or clears the recompile alarm.
 */
export function createEnforcement({ state, blockPage, audit, auditLocation, siteData, loadProceeds, schedule }) {
  let pushed = {};
  let reportedRejections = new Set();

  const blockUrl = (url) => `${blockPage}#${url}`;

  function context(nowMs = Date.now()) {
    return {
      identity: state.identity,
      network: state.network,
      nowMs,
      approvals: state.approvals.map((r) => r.approval),
      proceeds: state.proceeds,
    };
  }

  /**
   * The engine, with the context set once per change rather than converted on every call: the
   * facts are replaced, never mutated, so comparing references finds every change.
   */
  function engine() {
    const e = state.policy.engine;
    const inputs = { engine: e, identity: state.identity, network: state.network, approvals: state.approvals, proceeds: state.proceeds };
    if (Object.keys(inputs).some((k) => pushed[k] !== inputs[k])) {
      e.setContext(context());
      pushed = inputs;
    }
    return e;
  }

  function decide(url, resourceType) {
    return engine().decide(url, resourceType, Date.now());
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

  async function recompile(reason, { force = false } = {}) {
    if (!state.policy) return;
    const nowMs = Date.now();
    verifyApprovals(nowMs);
    // storage.session is the record of the continues (the worker may have slept); ended ones drop.
    state.proceeds = await loadProceeds();
    let compiled;
    try {
      compiled = engine().compileRules(nowMs, blockPage);
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
      broadRulesets: compiled.broadRulesets ?? [],
      nextChangeMs: compiled.nextChangeMs,
      install,
    };
    // A second late rather than early, so that the recompile sees the new day or the expiry.
    await schedule(compiled.nextChangeMs == null ? null : compiled.nextChangeMs + 1000);
    await verdictsChanged();
  }

  /**
   * What the rules cannot reach once the verdicts change: open tabs of now-stopped services, and
   * service workers and caches of now-blocked origins.
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
    // The broad tier's rulesets, as the last compile wanted them (switched back if changed).
    const wanted = state.compiled?.install?.ok ? state.compiled.broadRulesets : null;
    const enabled = wanted ? await dnr.enabledRulesets() : null;
    if (wanted && enabled) {
      const on = BROAD_RULESETS.filter((id) => enabled.includes(id));
      if (on.length !== wanted.length || !wanted.every((id) => on.includes(id))) {
        await syncBroadRulesets(wanted);
        found.push({ ruleset: 'broad', enabled: on, expected: wanted });
      }
    }
    if (!found.length) return;
    audit({ kind: 'rules_repaired', phase: 'timer', found });
    if (found.some((f) => f.ruleset === 'dynamic')) await recompile('rules repaired', { force: true });
  }

  /**
   * Whether the installed rules are out of date: a change they were compiled to expect (an
   * approval ends or starts, a new day) has fallen due and the recompile alarm has not run yet —
   * Chrome may delay alarms, and fires none sooner than 30 s after it was set for a packed
   * extension.
   */
  function rulesStale(nowMs = Date.now()) {
    const next = state.compiled?.nextChangeMs;
    return next != null && nowMs >= next;
  }

  return { engine, decide, recompile, checkRulesInForce, rulesStale, blockUrl };
}
