// Installing what wasm-core compiled. The engine owns rule ids and priorities (one deterministic
// compile of policy + catalogue + approvals); this module only swaps rule sets without a gap:
// the new dynamic rules go in first, and only once they are in force is the static bootstrap
// ruleset (which blocks every catalogue host from install time on) switched off.
//
// "Already installed" is decided by the installed rules' content (getDynamicRules), never by a
// stored digest or count: the profile's rule files are the user's to edit (integrity.js).

import { dnr, storage } from './ext.js';
import { INSTALL_RECORD_KEY, firstDifference, installRecord, rulesText, sha256 } from './integrity.js';

export const BOOTSTRAP_RULESET = 'bootstrap';

/** The broad tier's static rulesets (one per category, `manifest.json`), all off at install. */
export const BROAD_RULESETS = (chrome.runtime.getManifest().declarative_net_request?.rule_resources ?? [])
  .map((r) => r.id)
  .filter((id) => id.startsWith('broad_'));

/**
 * Switches the broad rulesets to what the engine compiled (`compiled.broadRulesets`), after the
 * dynamic rules are in: a category's broad tier is on while the category warns or blocks, its
 * `broad` switch is on and no approval covers the whole category.
 * @param {string[]} wanted ruleset ids to have on
 * @returns {Promise<string[]|null>} the broad rulesets on afterwards (null when unknown)
 */
export async function syncBroadRulesets(wanted) {
  const enabled = await dnr.enabledRulesets();
  const on = new Set(wanted);
  const enableRulesetIds = BROAD_RULESETS.filter((id) => on.has(id) && !enabled?.includes(id));
  const disableRulesetIds = BROAD_RULESETS.filter((id) => !on.has(id) && enabled?.includes(id) !== false);
  if (enableRulesetIds.length || disableRulesetIds.length) {
    await dnr.updateRulesets({ enableRulesetIds, disableRulesetIds });
  }
  const after = await dnr.enabledRulesets();
  return after ? BROAD_RULESETS.filter((id) => after.includes(id)) : null;
}

/**
 * @param {{rules: object[], disableBootstrap: boolean}} compiled engine.compileRules output
 * @param {{force?: boolean}} options force: install even when the content is the same (makes
 *   Chromium rebuild its index of the rules from what this worker gives it).
 * @returns {Promise<{ok: boolean, changed: boolean, repaired: object|null, error?: string, bootstrapEnabled: boolean|null, broadEnabled?: string[]|null}>}
 *   repaired: the installed rules differed from a compile whose output had not changed — they were
 *   edited outside the extension.
 */
export async function installRules(compiled, { force = false } = {}) {
  const rules = compiled.rules ?? [];
  const expected = rulesText(rules);
  const compiledDigest = await sha256(expected);
  const existing = await dnr.dynamicRules();
  const same = rulesText(existing) === expected;
  let changed = false;
  let repaired = null;
  if (force || !same) {
    const record = await installRecord();
    if (!same && record?.compiledDigest === compiledDigest) {
      repaired = { installed: existing.length, expected: rules.length, ...firstDifference(existing, rules) };
    }
    const result = await dnr.updateDynamic({ removeRuleIds: existing.map((r) => r.id), addRules: rules });
    if (!result.ok) {
      // The previous dynamic rules are still in force (the update is atomic); make sure the
      // bootstrap ruleset is too, then report.
      await dnr.updateRulesets({ enableRulesetIds: [BOOTSTRAP_RULESET] });
      return { ok: false, changed: false, repaired, error: result.error, bootstrapEnabled: true };
    }
    // What Chromium now holds, read back: the next worker start compares against this.
    const installed = await dnr.dynamicRules();
    const installedText = rulesText(installed);
    await storage.setLocal({
      [INSTALL_RECORD_KEY]: { compiledDigest, installedDigest: await sha256(installedText), count: installed.length, atMs: Date.now() },
    });
    if (installedText !== expected) {
      await dnr.updateRulesets({ enableRulesetIds: [BOOTSTRAP_RULESET] });
      return { ok: false, changed: true, repaired, error: 'the installed rules read back differently from the compiled ones', bootstrapEnabled: true };
    }
    changed = !same;
  }
  const enabled = await dnr.enabledRulesets();
  const isOn = enabled ? enabled.includes(BOOTSTRAP_RULESET) : null;
  if (compiled.disableBootstrap && isOn !== false) {
    await dnr.updateRulesets({ disableRulesetIds: [BOOTSTRAP_RULESET] });
  } else if (!compiled.disableBootstrap && isOn !== true) {
    await dnr.updateRulesets({ enableRulesetIds: [BOOTSTRAP_RULESET] });
  }
  const broadEnabled = await syncBroadRulesets(compiled.broadRulesets ?? []);
  const after = await dnr.enabledRulesets();
  return { ok: true, changed, repaired, bootstrapEnabled: after ? after.includes(BOOTSTRAP_RULESET) : null, broadEnabled };
}
