// Benchmarks the wasm build of gatehouse-core, in Node and in Chromium, against the native build, in one run.
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
//   count (tests/wasm/hotpath.mjs).
// - One question. In wasm it is the call the service worker makes on every navigation: the
//   context set once (`engine.setContext`), then `check(engine, url, 'main_frame', nowMs)`
//   (extension/js/check.js: the URL written into the engine's input buffer, a number back) —
//   null when uncategorised, else the brief verdict — so the wasm figure also carries the
//   JS↔wasm boundary. Natively the same question is `Request::new` + `Engine::brief` (the goal's
//   ratio); `Request::new` + `decide`, which also words the verdict, is shown beside it (the
//   ratio before there was a brief). More wasm figures: the boundary alone (each URL written
//   into the input buffer as check.js does, and one call of an export that does nothing — not
//   `about:blank`, which the URL parser takes through its full, slow path);
//   `engine.check(url, type, nowMs)`, the same with wasm-bindgen's string passing; and the
//   older calling convention `engine.decide(url, type, context)` (context converted and a full
//   verdict built per call).
// - Two JavaScript engines. The hot path is timed in Node and, when Chromium is there ($CHROMIUM,
//   else /usr/lib/chromium/chromium), in a Chromium page too (tests/wasm/chromium.mjs): the
//   worker runs in Chromium, whose TextEncoder and wasm code differ from Node's.
//
// Flags: --reuse-native  read target/gatehouse-bench/*.json from an earlier run instead of
//                        running cargo (the ratios are then not from the same run; it says so).
//        --no-chromium   Node only.
// Exit status: 0 when it ran (a missed goal is reported, not failed); 1 when the wasm and native
// builds disagree on what the workload blocks, or the native run fails.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadEngine } from './engine.mjs';
import { measureHotPath, timeCalls, median } from './hotpath.mjs';
import { measureInChromium } from './chromium.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const outDir = join(root, 'target', 'gatehouse-bench');
const reuseNative = process.argv.includes('--reuse-native');
const COMPILE_ROUNDS = 5;
const CONTEXT = { nowMs: 1_800_000_000_000 }; // the native benches' NOW_MS
const BLOCK_PAGE = 'chrome-extension://abcdefghijklmnopabcdefghijklmnop/block.html';

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
/** The same verdict through wasm-bindgen's string passing. */
const checkString = (engine, url) => engine.check(url, 'main_frame', NOW_MS);
/** The older convention: a context object converted on every call, a full verdict back. */
const decideWithContext = (engine, url) => engine.decide(url, 'main_frame', CONTEXT);

function timeMs(rounds, f) {
  const samples = [];
  for (let i = 0; i < rounds; i++) {
    const start = performance.now();
    f();
    samples.push(performance.now() - start);
  }
  return median(samples);
}

const { native, memory } = runNative();
const urls = readFileSync(join(outDir, 'workload.txt'), 'utf8').split('\n').filter(Boolean);
const bigPolicy = readFileSync(join(outDir, 'policy-100k.json'), 'utf8');
if (urls.length !== native.urls) throw new Error(`workload has ${urls.length} URLs, the native run used ${native.urls}`);

// The worker's engine: with the broad tier, which the native build embeds.
const wasm = await loadEngine({ broad: true });
const node = measureHotPath(wasm, urls, bigPolicy, NOW_MS);
const [defaultEngine, bigEngine] = node.engines;
const [wasmDefault, wasmBig] = node.check;
const [stringDefault, stringBig] = timeCalls(node.engines, urls, checkString).nsPerUrl;
const [oldDefault, oldBig] = timeCalls(node.engines, urls, decideWithContext).nsPerUrl;

const chromiumBin = process.env.CHROMIUM ?? '/usr/lib/chromium/chromium';
const inChromium = process.argv.includes('--no-chromium') || (!process.env.CHROMIUM && !existsSync(chromiumBin))
  ? null
  : await measureInChromium(chromiumBin, NOW_MS);

const fromJsonMs = timeMs(COMPILE_ROUNDS, () => new wasm.Engine(bigPolicy).free());
let compiled;
const compileRulesMs = timeMs(COMPILE_ROUNDS, () => { compiled = bigEngine.compileRules(NOW_MS, BLOCK_PAGE); });

const wasmBytes = readFileSync(new URL('../../extension/wasm/gatehouse_core_bg.wasm', import.meta.url));
const gzBytes = gzipSync(wasmBytes, { level: 9 }).length;

// Every run of the hot path must stop exactly what the native engine stops.
const nativeStopped = [native.gatehouseBlocked, native.gatehouseBlockedBig];
const runs = [['Node', node], ...(inChromium ? [['Chromium', inChromium]] : [])];
const disagreeing = runs.filter(([, r]) => r.stopped.some((n, i) => n !== nativeStopped[i]));
const ratio = (a, b) => `${(a / b).toFixed(2)}x`;
const row = (label, ...cells) => console.log(label.padEnd(48) + cells.map((c) => String(c).padStart(20)).join(''));
const f1 = (x) => x.toFixed(1);
const mib = (b) => `${(b / 1048576).toFixed(2)} MiB`;
const [briefDefault, briefBig] = [native.gatehouseBriefNsPerUrl, native.gatehouseBriefBigNsPerUrl];

console.log(`\nGatehouse benchmark — ${urls.length} URLs (${native.catalogueUrls} catalogue, ${native.extraUrls} extra-rule hosts) from ${native.domainsSource}`);
console.log(reuseNative ? 'NOTE: native numbers reused from an earlier run (--reuse-native)\n' : 'native and wasm measured in this run\n');
row('per URL, median of 9 passes (ns/URL)', 'default', '+100k hosts');
row('native gatehouse: Request::new + decide', f1(native.gatehouseDecideNsPerUrl), f1(native.gatehouseDecideBigNsPerUrl));
row('native gatehouse: Request::new + brief', f1(briefDefault), f1(briefBig));
row('native adblock-rust: Request::new + check', f1(native.adblockCheckNsPerUrl), f1(native.adblockCheckBigNsPerUrl));
row('adblock / native gatehouse (goal >= 2x)', ratio(native.adblockCheckNsPerUrl, native.gatehouseDecideNsPerUrl), ratio(native.adblockCheckBigNsPerUrl, native.gatehouseDecideBigNsPerUrl));
for (const [where, r] of runs) {
  const [d, b] = r.check;
  console.log(`\nwasm in ${where}${r.userAgent ? ` (${r.userAgent.match(/Chrom\w+\/[\d.]+/)?.[0]}${r.isolated ? '' : ', timer not isolated'})` : ` ${process.version}`}`);
  row('check.js (the worker\'s call)', f1(d), f1(b));
  row('boundary alone (URL in + an empty call)', f1(r.boundary), '');
  row('  of which writing the URL in (check.js)', f1(r.copy), '');
  // The same question on both sides: check.js asks the engine for its brief verdict
  // (`Engine::brief` natively).
  row('check.js / native brief (goal <= 2x)', ratio(d, briefDefault), ratio(b, briefBig));
  // The engine's own cost in wasm once the URL is in its memory: the boundary is a fixed cost
  // per call, set by the JavaScript engine, whatever the Rust engine does.
  row('(check.js - boundary) / native brief', ratio(d - r.boundary, briefDefault), ratio(b - r.boundary, briefBig));
  row('URLs stopped: native / wasm', `${nativeStopped[0]}/${r.stopped[0]}`, `${nativeStopped[1]}/${r.stopped[1]}`);
}
console.log('');
row('wasm in Node: other calling conventions', 'default', '+100k hosts');
row('engine.check(url, type, now) (string)', f1(stringDefault), f1(stringBig));
row('engine.decide(url, type, context) (older)', f1(oldDefault), f1(oldBig));
row('check.js / native decide', ratio(wasmDefault, native.gatehouseDecideNsPerUrl), ratio(wasmBig, native.gatehouseDecideBigNsPerUrl));
if (!inChromium) console.log('(Chromium not measured: --no-chromium, or no Chromium at $CHROMIUM or /usr/lib/chromium/chromium)');
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
  wasm: { decideNsPerUrl: wasmDefault, decideBigNsPerUrl: wasmBig, boundaryNsPerUrl: node.boundary, copyNsPerUrl: node.copy, checkStringNsPerUrl: stringDefault, checkStringBigNsPerUrl: stringBig, decideWithContextNsPerUrl: oldDefault, decideWithContextBigNsPerUrl: oldBig, newEngineMs: fromJsonMs, compileRulesMs, bytes: wasmBytes.length, gzipBytes: gzBytes, blocked: node.stopped },
  chromium: inChromium && { checkNsPerUrl: inChromium.check, boundaryNsPerUrl: inChromium.boundary, copyNsPerUrl: inChromium.copy, blocked: inChromium.stopped, userAgent: inChromium.userAgent },
};
writeFileSync(join(outDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
console.log(`\nsummary written to ${join(outDir, 'summary.json')}`);
defaultEngine.free();
bigEngine.free();
if (disagreeing.length) {
  for (const [where, r] of disagreeing) console.error(`wasm in ${where} and native disagree on the workload: stopped ${r.stopped} vs ${nativeStopped}`);
  process.exit(1);
}
