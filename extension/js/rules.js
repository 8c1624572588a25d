// Installing what wasm-core compiled. The engine owns rule ids and priorities (one deterministic
// compile of policy + catalogue + approvals); this module only swaps rule sets without a gap:
// the new dynamic rules go in first, and only once they are in force is the static bootstrap
// ruleset (which blocks every catalogue host from install time on) switched off.

import { dnr, storage } from './ext.js';

export const BOOTSTRAP_RULESET = 'bootstrap';
const INSTALLED_KEY = 'gatehouse.installedRules';

async function digest(value) {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  const hash = await crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * @param {{rules: object[], disableBootstrap: boolean}} compiled engine.compileRules output
 * @returns {Promise<{ok: boolean, changed: boolean, error?: string, bootstrapEnabled: boolean|null}>}
 */
export async function installRules(compiled) {
  const rules = compiled.rules ?? [];
  const key = await digest(rules);
  const existing = await dnr.dynamicRules();
  const recorded = (await storage.local(INSTALLED_KEY))[INSTALLED_KEY];
  let changed = false;
  // Deterministic compile: the same digest and the same count means the same rules are in force.
  if (recorded !== key || existing.length !== rules.length) {
    const result = await dnr.updateDynamic({ removeRuleIds: existing.map((r) => r.id), addRules: rules });
    if (!result.ok) {
      // The previous dynamic rules are still in force (the update is atomic); make sure the
      // bootstrap ruleset is too, then report.
      await dnr.updateRulesets({ enableRulesetIds: [BOOTSTRAP_RULESET] });
      return { ok: false, changed: false, error: result.error, bootstrapEnabled: true };
    }
    await storage.setLocal({ [INSTALLED_KEY]: key });
    changed = true;
  }
  const enabled = await dnr.enabledRulesets();
  const isOn = enabled ? enabled.includes(BOOTSTRAP_RULESET) : null;
  if (compiled.disableBootstrap && isOn !== false) {
    await dnr.updateRulesets({ disableRulesetIds: [BOOTSTRAP_RULESET] });
  } else if (!compiled.disableBootstrap && isOn !== true) {
    await dnr.updateRulesets({ enableRulesetIds: [BOOTSTRAP_RULESET] });
  }
  const after = await dnr.enabledRulesets();
  return { ok: true, changed, bootstrapEnabled: after ? after.includes(BOOTSTRAP_RULESET) : null };
}
