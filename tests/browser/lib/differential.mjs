// The differential cases, generated in Rust (wasm-core/examples/differential.rs: every catalogue
// and policy pattern × spelling × resource type, with the engine's verdict), and Chromium's own
// verdict for each from the installed rules (declarativeNetRequest.testMatchOutcome, available
// to unpacked extensions without further permissions).

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO } from './harness.mjs';

/**
 * Runs the generator for `policy` (an object, or null for the embedded default) and returns
 * `{rules, cases}`. GATEHOUSE_DIFFERENTIAL_BIN names a built example binary; otherwise cargo
 * builds and runs it.
 */
export function generate(policy, blockPage) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-differential-'));
  const file = path.join(dir, 'policy.json');
  const text = policy === null
    ? fs.readFileSync(path.join(REPO, 'wasm-core/src/default-policy.json'), 'utf8')
    : JSON.stringify(policy);
  fs.writeFileSync(file, text);
  const bin = process.env.GATEHOUSE_DIFFERENTIAL_BIN;
  const [cmd, args] = bin
    ? [bin, [file, blockPage]]
    : ['cargo', ['run', '-q', '-p', 'gatehouse-core', '--example', 'differential', '--', file, blockPage]];
  const out = execFileSync(cmd, args, { cwd: REPO, maxBuffer: 512 * 1024 * 1024, stdio: ['ignore', 'pipe', 'inherit'] });
  fs.rmSync(dir, { recursive: true, force: true });
  return JSON.parse(out.toString('utf8'));
}

/**
 * Chromium's verdict for every case: `{blocked, rules}` from testMatchOutcome, where blocked
 * means a matched block rule or a redirect to the block page. Evaluated in the extension's
 * worker, in concurrent batches.
 */
/** Whether `url` is the extension's block page (at its id or its dynamic URL). */
export const isBlockPage = (url) => /^chrome-extension:\/\/[^/]+\/block\.html#/.test(url ?? '');

export async function browserVerdicts(scenario, cases) {
  const worker = await scenario.worker();
  const actions = await worker.evaluate(async () => {
    const d = chrome.declarativeNetRequest;
    const map = {};
    for (const r of await d.getDynamicRules()) map[`_dynamic:${r.id}`] = r.action;
    // Every static ruleset in force: bootstrap, and the broad tier's (issue 12).
    for (const id of await d.getEnabledRulesets()) {
      const rules = await (await fetch(chrome.runtime.getURL(`rules/${id}.json`))).json();
      for (const r of rules) map[`${id}:${r.id}`] = r.action;
    }
    return map;
  });
  const results = [];
  const CHUNK = 4000;
  for (let i = 0; i < cases.length; i += CHUNK) {
    const chunk = cases.slice(i, i + CHUNK).map((c) => ({ url: c.url, type: c.type, method: c.method }));
    const matched = await worker.evaluate(async (chunk) => {
      const out = new Array(chunk.length);
      const one = async (c, k) => {
        try {
          const r = await chrome.declarativeNetRequest.testMatchOutcome(c);
          out[k] = r.matchedRules.map((m) => `${m.rulesetId}:${m.ruleId}`);
        } catch (e) {
          out[k] = { error: String(e?.message ?? e) };
        }
      };
      for (let k = 0; k < chunk.length; k += 200) {
        await Promise.all(chunk.slice(k, k + 200).map((c, j) => one(c, k + j)));
      }
      return out;
    }, chunk);
    results.push(...matched);
  }
  return results.map((m) => {
    if (!Array.isArray(m)) return { blocked: null, error: m.error };
    const kinds = m.map((id) => actions[id]).filter(Boolean);
    const redirectsElsewhere = kinds.some((a) => a.type === 'redirect' && !isBlockPage(a.redirect?.regexSubstitution));
    const blocked = kinds.some((a) => a.type === 'block' || a.type === 'redirect');
    return { blocked, rules: m, error: redirectsElsewhere ? `redirect not to the block page: ${JSON.stringify(kinds)}` : null };
  });
}
