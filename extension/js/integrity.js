// Are the rules in force the rules Gatehouse compiled?
//
// The dynamic rules live in the user's profile (`<profile>/Default/DNR Extension Rules/<id>/`:
// rules.json and its index rules.fbs). With the browser closed, the user can edit rules.json and
// delete the index; Chromium then rebuilds the index from the edited file (tamper finding 9).
// Nothing in the profile is trusted, so:
//
// 1. At worker start, before the engine loads (`checkAtStart`): the installed rules' content is
//    compared with a digest of what the worker itself read back after its last install. A
//    difference removes every dynamic rule and turns the bootstrap ruleset on (every catalogue
//    host blocked) until the compiled rules are installed — fail closed, within milliseconds of
//    the worker starting. When they match, at the first worker start of a browser session, the
//    same rules are installed again so that Chromium rebuilds its index from them (an edited
//    rules.fbs with a forged checksum is not used). Chromium reads the files only when it loads
//    the extension, so later worker starts in the same session (after idle) only compare.
// 2. The first compile of a browser session installs unconditionally (rules.js `force`).
// 3. On a timer (`checkInForce`): dynamic rules against the last compile's content, session
//    rules against the warn-mode continues the worker granted, the bootstrap ruleset's state and
//    its individually disabled rules. What differs is repaired and audited (`rules_repaired`).
//
// What this cannot see, stated: the rules Chromium enforces between the browser's start and the
// worker's first run (~0.1–1 s, see tests/browser/integrity.test.mjs), and the content of the
// static bootstrap ruleset file inside the installed extension (no API reads static rules;
// Chromium's content verification of the installed files is what holds there).

import { dnr, storage } from './ext.js';

export const INSTALL_RECORD_KEY = 'gatehouse.installedRules';

/** Objects with sorted keys, nulls dropped: the same rules give the same text whatever order. */
export function canonical(value) {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    const out = {};
    for (const key of Object.keys(value).sort()) {
      if (value[key] !== undefined && value[key] !== null) out[key] = canonical(value[key]);
    }
    return out;
  }
  return value;
}

/** One text for a rule list, sorted by id. */
export function rulesText(rules) {
  return JSON.stringify(canonical([...(rules ?? [])].sort((a, b) => a.id - b.id)));
}

export async function sha256(text) {
  const hash = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The last install as recorded: {compiledDigest, installedDigest, count, atMs} or null. */
export async function installRecord() {
  const record = (await storage.local(INSTALL_RECORD_KEY))[INSTALL_RECORD_KEY];
  return record && typeof record === 'object' && typeof record.installedDigest === 'string' ? record : null;
}

/** Where two rule lists first differ, for the audit event (ids only, never rule content). */
export function firstDifference(installed, expected) {
  const byId = new Map(expected.map((r) => [r.id, JSON.stringify(canonical(r))]));
  const seen = new Set();
  for (const r of [...installed].sort((a, b) => a.id - b.id)) {
    seen.add(r.id);
    if (!byId.has(r.id)) return { ruleId: r.id, what: 'unexpected rule' };
    if (byId.get(r.id) !== JSON.stringify(canonical(r))) return { ruleId: r.id, what: 'changed rule' };
  }
  const missing = expected.find((r) => !seen.has(r.id));
  return missing ? { ruleId: missing.id, what: 'missing rule' } : null;
}

/**
 * Step 1, before anything else at worker start. Never throws.
 * @param {{bootstrap: string, reindex?: boolean|Promise<boolean>}} o reindex: install matching
 *   rules again (the first start of a browser session)
 * @returns {Promise<{status: 'verified'|'empty'|'repaired', atMs: number, doneMs: number, installed: number, difference?: string}>}
 *   atMs when the check began, doneMs when what it found was out of force
 */
export async function checkAtStart({ bootstrap, reindex = true }) {
  const atMs = Date.now();
  // Everything read at once: this runs before anything else in the worker, and every
  // millisecond here is one in which the profile's rules alone are in force.
  const [rules, record] = await Promise.all([dnr.dynamicRules(), installRecord(), enableStaticRules(bootstrap)]);
  if (!record && !rules.length) {
    // A first install — or the rules and the record of them both deleted: the bootstrap ruleset
    // holds until the first compile either way (it is on after an install already).
    await dnr.updateRulesets({ enableRulesetIds: [bootstrap] });
    return { status: 'empty', atMs, doneMs: Date.now(), installed: 0 };
  }
  const digest = await sha256(rulesText(rules));
  if (record && digest === record.installedDigest) {
    // Same content as the worker last read back: install it again so that Chromium re-indexes it.
    if (await reindex) await dnr.updateDynamic({ removeRuleIds: rules.map((r) => r.id), addRules: rules });
    return { status: 'verified', atMs, doneMs: Date.now(), installed: rules.length, reindexed: await reindex };
  }
  // Not what this worker installed (or no record of it): nothing of it stays in force.
  await dnr.updateRulesets({ enableRulesetIds: [bootstrap] });
  await dnr.updateDynamic({ removeRuleIds: rules.map((r) => r.id) });
  await storage.setLocal({ [INSTALL_RECORD_KEY]: { compiledDigest: null, installedDigest: await sha256(rulesText([])), count: 0, atMs } });
  return {
    status: 'repaired',
    atMs,
    doneMs: Date.now(),
    installed: rules.length,
    expected: record?.count ?? null,
    difference: record ? 'content differs from the last install' : 'no record of an install',
  };
}

/** Re-enables every rule of the static ruleset that was switched off one by one. */
async function enableStaticRules(rulesetId) {
  const disabled = await dnr.disabledStaticRuleIds(rulesetId);
  if (disabled?.length) await dnr.updateStaticRules({ rulesetId, enableRuleIds: disabled });
  return disabled?.length ?? 0;
}

/**
 * Step 3, on a timer. Repairs session rules and the static ruleset itself; reports a dynamic
 * difference for the caller to reinstall (it owns the compiled rules). Never throws.
 * @param {{expected: object[]|null, sessionRuleIds: number[], bootstrap: string, bootstrapOn: boolean|null}} o
 * @returns {Promise<object[]>} what was found different (empty: all as compiled)
 */
export async function checkInForce({ expected, sessionRuleIds, bootstrap, bootstrapOn }) {
  const found = [];
  if (expected) {
    const installed = await dnr.dynamicRules();
    if (rulesText(installed) !== rulesText(expected)) {
      found.push({ ruleset: 'dynamic', installed: installed.length, expected: expected.length, ...firstDifference(installed, expected) });
    }
  }
  const allowed = new Set(sessionRuleIds);
  const extra = (await dnr.sessionRules()).filter((r) => !allowed.has(r.id));
  if (extra.length) {
    await dnr.updateSession({ removeRuleIds: extra.map((r) => r.id) });
    found.push({ ruleset: 'session', unexpected: extra.length, ruleId: extra[0].id });
  }
  const reenabled = await enableStaticRules(bootstrap);
  if (reenabled) found.push({ ruleset: bootstrap, disabledRules: reenabled });
  if (bootstrapOn !== null) {
    const enabled = await dnr.enabledRulesets();
    const isOn = enabled ? enabled.includes(bootstrap) : null;
    if (isOn !== null && isOn !== bootstrapOn) {
      await dnr.updateRulesets(bootstrapOn ? { enableRulesetIds: [bootstrap] } : { disableRulesetIds: [bootstrap] });
      found.push({ ruleset: bootstrap, enabled: isOn, expected: bootstrapOn });
    }
  }
  return found;
}
