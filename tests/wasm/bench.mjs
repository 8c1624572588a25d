// Benchmarks the wasm build of gatehouse-core under Node against the native build, in one run.
//
//   cargo xtask build            # builds extension/wasm/ (the module measured here)
//   node tests/wasm/bench.mjs    # or: cargo xtask bench (criterion first, then this)
//
// How the numbers are made comparable:
// - One workload. This script does not generate URLs itself: it first runs the native bench
//   targets `compare` and `memory` (`cargo bench -p gatehouse-core --bench compare --bench memory
//   -- --out target/gatehouse-bench --json`). `compare` generates the 100,000-URL workload and the
//   100,000-host policy (wasm-core/benches/common/mod.rs: top-100k domains + catalogue patterns,
//   fixed LCG), writes them to target/gatehouse-bench/{workload.txt,policy-100k.json}, and prints
//   its own numbers (Gatehouse and adblock-rust per URL, compile times) as one JSON line. This
//   script reads those files, so native and wasm see byte-identical input.
// - One method. Both sides time whole passes over the workload: two warm-up passes, then nine
//   measured passes with the engines interleaved, and report the median pass divided by the URL
//   count.
// - One question. In wasm it is the call the service worker makes on every navigation: the
//   context set once (`engine.setContext`), then `check(engine, url, 'main_frame', nowMs)`
//   (extension/js/check.js: the URL encoded into the engine's input buffer, a number back) —
//   null when uncategorised, else the brief verdict — so the wasm figure also carries the
//   JS↔wasm boundary. Natively the same question is `Request::new` + `Engine::brief` (the goal's
//   ratio); `Request::new` + `decide`, which also words the verdict, is shown beside it (the
//   ratio before there was a brief). More wasm figures: the boundary alone (each URL encoded
//   into the input buffer as check.js does, and one call of an export that does nothing — not
//   `about:blank`, which the URL parser takes through its full, slow path; measured 2026-12:
//   about 300 ns for about:blank against about 50 ns for the boundary);
//   `engine.check(url, type, nowMs)`, the same
//   with wasm-bindgen's string passing; and the older calling convention
//   `engine.decide(url, type, context)` (context converted and a full verdict built per call).
//
// Flags: --reuse-native  read target/gatehouse-bench/*.json from an earlier run instead of
//                        running cargo (the ratios are then not from the same run; it says so).
// Exit status: 0 when it ran (a missed goal is reported, not failed); 1 when the wasm and native
// builds disagree on what the workload blocks, or the native run fails.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadEngine } from './engine.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const outDir = join(root, 'target', 'gatehouse-bench');
const reuseNative = process.argv.includes('--reuse-native');
const WARM_UP = 2;
const ROUNDS = 9;
const COMPILE_ROUNDS = 5;
const CONTEXT = { nowMs: 1_800_000_000_000 }; // the native benches' NOW_MS
const BLOCK_PAGE = 'chrome-extension://abcdefghijklmnopabcdefghijklmnop/block.html';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const nowNs = () => Number(process.hrtime.bigint());

function runNative() {
  mkdirSync(outDir, { recursive: true });
  if (reuseNative) {
    return {
      native: JSON.parse(readFileSync(join(outDir, 'native.json'), 'utf8')),
      memory: JSON.parse(readFileSync(join(outDir, 'memory.json'), 'utf8')),
    };
  }
  const cargo = process.env.CARGO ?? 'cargo';
  const args = ['bench', '-p', 'gatehouse-core', '--bench', 'compare', '--bench', 'memory', '--', '--out', outDir, '--json'];
  console.log(`bench.mjs: ${cargo} ${args.join(' ')}`);
  const run = spawnSync(cargo, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
  if (run.status !== 0) {
    process.stdout.write(run.stdout ?? '');
    throw new Error(`native benchmarks failed (exit ${run.status})`);
  }
  const line = (tag) => {
    const found = run.stdout.split('\n').find((l) => l.startsWith(`${tag} `));
    if (!found) throw new Error(`native benchmarks printed no ${tag} line`);
    return JSON.parse(found.slice(tag.length + 1));
  };
  process.stdout.write(run.stdout.split('\n').filter((l) => !l.startsWith('GATEHOUSE_BENCH_')).join('\n'));
  const memory = line('GATEHOUSE_BENCH_MEMORY');
  writeFileSync(join(outDir, 'memory.json'), JSON.stringify(memory) + '\n');
  return { native: line('GATEHOUSE_BENCH_NATIVE'), memory };
}

const NOW_MS = CONTEXT.nowMs;
/** The worker's call: the verdict (null when Gatehouse does not apply) from the context set once. */
const check = (engine, url) => wasm.check(engine, url, 'main_frame', NOW_MS);
/** The same verdict through wasm-bindgen's string passing. */
const checkString = (engine, url) => engine.check(url, 'main_frame', NOW_MS);
/** The older convention: a context object converted on every call, a full verdict back. */
const decideWithContext = (engine, url) => engine.decide(url, 'main_frame', CONTEXT);

/// Nanoseconds per URL of `call` over the workload, per engine, interleaved.
function timeDecide(engines, urls, call = check) {
  const samples = engines.map(() => []);
  const blocked = engines.map(() => 0);
  for (let round = 0; round < WARM_UP + ROUNDS; round++) {
    engines.forEach((engine, i) => {
      let n = 0;
      const start = nowNs();
      for (const url of urls) {
        const action = call(engine, url)?.action;
        if (action === 'block' || action === 'warn') n++;
      }
      const ns = nowNs() - start;
      if (round >= WARM_UP) samples[i].push(ns / urls.length);
      blocked[i] = n;
    });
  }
  return { nsPerUrl: samples.map(median), blocked };
}

function timeMs(rounds, f) {
  const samples = [];
  for (let i = 0; i < rounds; i++) {
    const start = nowNs();
    f();
    samples.push((nowNs() - start) / 1e6);
  }
  return median(samples);
}

const { native, memory } = runNative();
const urls = readFileSync(join(outDir, 'workload.txt'), 'utf8').split('\n').filter(Boolean);
const bigPolicy = readFileSync(join(outDir, 'policy-100k.json'), 'utf8');
if (urls.length !== native.urls) throw new Error(`workload has ${urls.length} URLs, the native run used ${native.urls}`);

// The worker's engine: with the broad tier, which the native build embeds.
const wasm = await loadEngine({ broad: true });
const defaultEngine = wasm.Engine.embeddedDefault();
const bigEngine = new wasm.Engine(bigPolicy);
defaultEngine.setContext(CONTEXT);
bigEngine.setContext(CONTEXT);
const decideRun = timeDecide([defaultEngine, bigEngine], urls);
const [wasmDefault, wasmBig] = decideRun.nsPerUrl;
const encoder = new TextEncoder();
const input = new Uint8Array(wasm.memory.buffer, defaultEngine.inputBuffer(), defaultEngine.inputCapacity());
const boundaryOnly = (engine, url) => {
  encoder.encodeInto(url, input);
  engine.inputCapacity();
  return null;
};
const boundary = timeDecide([defaultEngine], urls, boundaryOnly).nsPerUrl[0];
const encodeOnly = (engine, url) => {
  encoder.encodeInto(url, input);
  return null;
};
const encode = timeDecide([defaultEngine], urls, encodeOnly).nsPerUrl[0];
const [stringDefault, stringBig] = timeDecide([defaultEngine, bigEngine], urls, checkString).nsPerUrl;
const [oldDefault, oldBig] = timeDecide([defaultEngine, bigEngine], urls, decideWithContext).nsPerUrl;

const fromJsonMs = timeMs(COMPILE_ROUNDS, () => new wasm.Engine(bigPolicy).free());
let compiled;
const compileRulesMs = timeMs(COMPILE_ROUNDS, () => { compiled = bigEngine.compileRules(NOW_MS, BLOCK_PAGE); });

const wasmBytes = readFileSync(new URL('../../extension/wasm/gatehouse_core_bg.wasm', import.meta.url));
const gzBytes = gzipSync(wasmBytes, { level: 9 }).length;

const agree = decideRun.blocked[0] === native.gatehouseBlocked && decideRun.blocked[1] === native.gatehouseBlockedBig;
const ratio = (a, b) => `${(a / b).toFixed(2)}x`;
const row = (label, ...cells) => console.log(label.padEnd(48) + cells.map((c) => String(c).padStart(20)).join(''));
const f1 = (x) => x.toFixed(1);
const mib = (b) => `${(b / 1048576).toFixed(2)} MiB`;

console.log(`\nGatehouse benchmark — ${urls.length} URLs (${native.catalogueUrls} catalogue, ${native.extraUrls} extra-rule hosts) from ${native.domainsSource}`);
console.log(reuseNative ? 'NOTE: native numbers reused from an earlier run (--reuse-native)\n' : 'native and wasm measured in this run\n');
row('per URL, median of 9 passes (ns/URL)', 'default', '+100k hosts');
row('native gatehouse: Request::new + decide', f1(native.gatehouseDecideNsPerUrl), f1(native.gatehouseDecideBigNsPerUrl));
row('native gatehouse: Request::new + brief', f1(native.gatehouseBriefNsPerUrl), f1(native.gatehouseBriefBigNsPerUrl));
row('native adblock-rust: Request::new + check', f1(native.adblockCheckNsPerUrl), f1(native.adblockCheckBigNsPerUrl));
row('wasm gatehouse: check.js (the worker\'s call)', f1(wasmDefault), f1(wasmBig));
row('wasm boundary alone (encodeInto + an empty call)', f1(boundary), '');
row('  of which TextEncoder.encodeInto', f1(encode), '');
row('wasm engine.check(url, type, now) (string)', f1(stringDefault), f1(stringBig));
row('wasm engine.decide(url, type, context) (older)', f1(oldDefault), f1(oldBig));
row('adblock / native gatehouse (goal >= 2x)', ratio(native.adblockCheckNsPerUrl, native.gatehouseDecideNsPerUrl), ratio(native.adblockCheckBigNsPerUrl, native.gatehouseDecideBigNsPerUrl));
// The same question on both sides: check.js asks the engine for its brief verdict (`Engine::brief`
// natively); against the full verdict (`decide`, names and sentence built) for comparison.
row('wasm check.js / native brief (goal <= 2x)', ratio(wasmDefault, native.gatehouseBriefNsPerUrl), ratio(wasmBig, native.gatehouseBriefBigNsPerUrl));
// What the engine costs in wasm once the URL is in its memory: the boundary is a fixed cost per
// call, set by the JavaScript engine, whatever the engine does.
row('wasm (check.js - boundary) / native brief', ratio(wasmDefault - boundary, native.gatehouseBriefNsPerUrl), ratio(wasmBig - boundary, native.gatehouseBriefBigNsPerUrl));
row('wasm check.js / native decide', ratio(wasmDefault, native.gatehouseDecideNsPerUrl), ratio(wasmBig, native.gatehouseDecideBigNsPerUrl));
row('URLs blocked: native / wasm / adblock', '', '');
row('', `${native.gatehouseBlocked}/${decideRun.blocked[0]}/${native.adblockBlocked}`, `${native.gatehouseBlockedBig}/${decideRun.blocked[1]}/${native.adblockBlockedBig}`);
console.log('');
row('compile, 100k extra hosts (ms)', 'native', 'wasm');
row('Policy::from_json / new Engine(json)', f1(native.policyFromJsonMs), f1(fromJsonMs));
row(`compile_rules / compileRules (${compiled.rules.length} rules)`, f1(native.compileRulesMs), f1(compileRulesMs));
row('adblock Engine from the same rules', f1(native.adblockEngineBuildMs), '');
console.log('');
row('heap retained, 100k extra hosts', 'gatehouse', 'adblock');
row('compiled policy / engine (native)', mib(memory.gatehouseBigBytes), mib(memory.adblockBigBytes));
row('gatehouse / adblock (goal < 1)', ratio(memory.gatehouseBigBytes, memory.adblockBigBytes), '');
console.log('');
row('wasm module (extension/wasm/gatehouse_core_bg.wasm)', `${wasmBytes.length} B`, `${gzBytes} B gz`);

const summary = {
  urls: urls.length,
  sameRun: !reuseNative,
  native,
  memory,
  wasm: { decideNsPerUrl: wasmDefault, decideBigNsPerUrl: wasmBig, boundaryNsPerUrl: boundary, encodeIntoNsPerUrl: encode, checkStringNsPerUrl: stringDefault, checkStringBigNsPerUrl: stringBig, decideWithContextNsPerUrl: oldDefault, decideWithContextBigNsPerUrl: oldBig, newEngineMs: fromJsonMs, compileRulesMs, bytes: wasmBytes.length, gzipBytes: gzBytes, blocked: decideRun.blocked },
};
writeFileSync(join(outDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
console.log(`\nsummary written to ${join(outDir, 'summary.json')}`);
defaultEngine.free();
bigEngine.free();
if (!agree) {
  console.error(`wasm and native disagree on the workload: blocked ${decideRun.blocked} vs ${native.gatehouseBlocked}/${native.gatehouseBlockedBig}`);
  process.exit(1);
}
