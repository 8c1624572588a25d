#!/usr/bin/env node
// A measurement (not a test): `node tests/browser/start-race.mjs [restarts per arm]`, in the
// tests' environment. How often does a navigation issued the instant the browser restarts reach
// the server before Chromium has the extension's persisted rules in force (docs/threat-model.md,
// "Navigate the instant the browser restarts"), and does the worker's start-of-session re-index
// (integrity.js `checkAtStart`) play a part? Two arms, interleaved: the built extension, and a
// copy whose worker skips the re-index. Each restart: launch with the profile of the arm, visit
// Gmail at once, wait for the worker to be ready, count what the sentinel server saw. Prints one
// line per arm and Fisher's exact test; writes tests/browser/artifacts/start-race.jsonl.
import fs from 'node:fs';
import path from 'node:path';
import { artifactPath, config, openScenario } from './lib/harness.mjs';

const RESTARTS = Number(process.argv[2] ?? 100);
const GMAIL = 'https://mail.google.com/mail/u/0/';

/** The built extension with the worker's re-index switched off (a scratch copy). */
function withoutReindex() {
  const dir = artifactPath('start-race-noreindex');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.cpSync(config.extensionDir, dir, { recursive: true });
  const file = path.join(dir, 'background.js');
  const source = fs.readFileSync(file, 'utf8');
  const patched = source.replace('reindex: session }', 'reindex: false }');
  if (patched === source) throw new Error('background.js no longer passes `reindex: session`: update this script');
  fs.writeFileSync(file, patched);
  return dir;
}

/** Two-sided Fisher's exact test on [[a, b], [c, d]]. */
function fisher(a, b, c, d) {
  const logFactorial = (n) => { let s = 0; for (let i = 2; i <= n; i++) s += Math.log(i); return s; };
  const [rowA, colA, n] = [a + b, a + c, a + b + c + d];
  const p = (x) => Math.exp(logFactorial(rowA) + logFactorial(n - rowA) + logFactorial(colA) + logFactorial(n - colA)
    - logFactorial(n) - logFactorial(x) - logFactorial(rowA - x) - logFactorial(colA - x) - logFactorial(n - rowA - colA + x));
  const observed = p(a);
  let sum = 0;
  for (let x = Math.max(0, colA + rowA - n); x <= Math.min(rowA, colA); x++) if (p(x) <= observed * (1 + 1e-9)) sum += p(x);
  return Math.min(1, sum);
}

const arms = { reindex: config.extensionDir, 'no reindex': withoutReindex() };
const out = artifactPath('start-race.jsonl');
fs.rmSync(out, { force: true });
const installed = {};
for (const [arm, dir] of Object.entries(arms)) {
  config.extensionDir = dir;
  const first = await openScenario(`start-race-${arm.replace(' ', '-')}`, {
    forceInstall: true,
    chromePolicies: { NetworkPredictionOptions: 2 },
    policy: { categories: { webmail: { mode: 'block' } } },
    host: true,
    sentinelHosts: ['mail.google.com'],
  });
  await first.waitFor((st) => st.readyMs && st.compiled?.install?.ok, 'rules installed', 60_000);
  await first.stop();
  installed[arm] = first;
}
const tally = Object.fromEntries(Object.keys(arms).map((arm) => [arm, { restarts: 0, reached: 0, errors: 0 }]));
try {
  for (let i = 0; i < RESTARTS; i++) {
    const order = i % 2 ? Object.keys(arms) : Object.keys(arms).reverse();
    for (const arm of order) {
      const first = installed[arm];
      const before = first.sentinel.requests.length;
      const record = { i, arm };
      let s = null;
      try {
        s = await openScenario(first.name, { reuse: first, forceInstall: true, waitForWorker: false });
        const { url } = await s.visit(GMAIL);
        record.blockPageAtOnce = url === s.blockUrl(GMAIL);
        const st = await s.waitFor((x) => x.readyMs && x.compiled?.install?.ok, 'ready', 30_000);
        record.reindexed = st.integrity?.reindexed ?? null;
        record.requests = first.sentinel.requests.length - before;
        tally[arm].restarts += 1;
        if (record.requests > 0) tally[arm].reached += 1;
      } catch (err) {
        record.error = String(err?.message ?? err).slice(0, 300);
        tally[arm].errors += 1;
      } finally {
        await s?.stop();
      }
      fs.appendFileSync(out, JSON.stringify(record) + '\n');
    }
  }
} finally {
  for (const first of Object.values(installed)) await first.close();
}
for (const [arm, t] of Object.entries(tally)) {
  console.log(`${arm.padEnd(10)} ${t.reached} of ${t.restarts} instant navigations reached the server (${t.errors} errors)`);
}
const [a, b] = Object.values(tally);
console.log(`Fisher's exact test, two-sided: p = ${fisher(a.reached, a.restarts - a.reached, b.reached, b.restarts - b.reached).toFixed(3)}`);
console.log(`records: ${out}`);
