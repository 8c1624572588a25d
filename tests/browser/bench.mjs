#!/usr/bin/env node
// Benchmarks (not tests): run `node tests/browser/bench.mjs [rounds]`. Same environment as the
// tests (GATEHOUSE_EXTENSION_DIR, GATEHOUSE_HOST_BIN, CHROMIUM). Prints a table and writes
// tests/browser/artifacts/bench.json.
//
// 1. Navigation start → block page shown, against Chromium's own URLBlocklist policy blocking the
//    same host (its built-in error page: the physical floor, no extension involved). Both are
//    timed from the driver the same way: page.goto() until the destination's load event; for
//    Gatehouse also until the verdict is rendered (body[data-state=ready]), which the driver
//    only sees by polling. So both are also timed on the page's own clock (Navigation Timing,
//    from the navigation's start, redirect included): URLBlocklist's loadEventEnd against the
//    moment block.js put the explanation on screen (body[data-rendered-ms]).
// 2. Service-worker cold start → enforcement ready: the worker is stopped through DevTools, woken
//    by a message from an extension page, and reports module start → rules checked/installed.
// 3. Service-worker memory: V8 heap of the worker (Runtime.getHeapUsage) and wasm linear memory.

import fs from 'node:fs';
import { artifactPath, blockPageReady, hostAvailable, openScenario, sleep } from './lib/harness.mjs';
import { stopWorker } from './lib/worker.mjs';

const ROUNDS = Number(process.argv[2] ?? 15);
const HOST = 'mail.google.com';
const URL_ = `https://${HOST}/mail/u/0/`;

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, median: q(0.5), p90: q(0.9), min: s[0], max: s[s.length - 1] };
};
const round1 = (x) => Math.round(x * 10) / 10;

async function timeNavigations(s, url, { verdict = false } = {}) {
  // Raw DevTools navigation: page.goto() rejects early on an error page, so both sides are timed
  // from Page.navigate to the destination's load event, whatever the destination is.
  const page = await s.context.newPage();
  const cdp = await s.context.newCDPSession(page);
  await cdp.send('Page.enable');
  const navigate = async (target) => {
    const loaded = new Promise((resolve) => cdp.once('Page.loadEventFired', resolve));
    await cdp.send('Page.navigate', { url: target });
    await loaded;
  };
  const load = [];
  const ready = [];
  const inPage = [];
  /** [navigation start → load end, → explanation rendered] on the page's own clock. */
  const pageClock = async () => {
    const { result } = await cdp.send('Runtime.evaluate', {
      expression: `JSON.stringify([performance.getEntriesByType('navigation')[0]?.loadEventEnd ?? null, Number(document.body?.dataset.renderedMs ?? NaN)])`,
      returnByValue: true,
    });
    return JSON.parse(result.value);
  };
  for (let i = 0; i < ROUNDS + 2; i++) {
    await navigate('about:blank');
    const t0 = performance.now();
    await navigate(`${url}?r=${i}`);
    const t1 = performance.now();
    if (verdict) await blockPageReady(page);
    const t2 = performance.now();
    const [loadEnd, rendered] = await pageClock();
    if (i >= 2) { // two warm-up rounds
      load.push(t1 - t0);
      ready.push(t2 - t0);
      inPage.push(verdict ? rendered : loadEnd);
    }
  }
  const landed = page.url();
  await cdp.detach();
  await page.close();
  if (inPage.some((x) => !Number.isFinite(x))) throw new Error(`no page-clock timing: ${inPage}`);
  return { load: stats(load), ready: verdict ? stats(ready) : null, inPage: stats(inPage), landed };
}

async function workerCdp(s) {
  const cdp = await s.context.browser().newBrowserCDPSession();
  const { targetInfos } = await cdp.send('Target.getTargets');
  const target = targetInfos.find((t) => t.type === 'service_worker' && t.url.startsWith(s.extensionUrl('')));
  const { sessionId } = await cdp.send('Target.attachToTarget', { targetId: target.targetId, flatten: false });
  let nextId = 1;
  const pending = new Map();
  cdp.on('Target.receivedMessageFromTarget', (m) => {
    if (m.sessionId !== sessionId) return;
    const msg = JSON.parse(m.message);
    pending.get(msg.id)?.(msg);
  });
  const send = (method, params = {}) => new Promise((resolve) => {
    const id = nextId++;
    pending.set(id, resolve);
    cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) });
  });
  return { send, close: () => cdp.detach() };
}

async function main() {
  const results = { rounds: ROUNDS, chromium: null };
  console.log(`rounds: ${ROUNDS}; host: ${HOST}`);

  // Baseline: Chromium's URLBlocklist, no extension.
  const floor = await openScenario('bench-urlblocklist', { noExtension: true, policy: null, chromePolicies: { URLBlocklist: [HOST] }, host: false });
  try {
    results.chromium = floor.context.browser()?.version() ?? null;
    results.urlBlocklist = await timeNavigations(floor, URL_);
  } finally {
    await floor.close();
  }

  const s = await openScenario('bench-gatehouse', { policy: null, host: hostAvailable() });
  try {
    await s.waitFor((st) => st.readyMs && st.compiled?.install?.ok !== undefined, 'ready');
    results.gatehouse = await timeNavigations(s, URL_, { verdict: true });

    // Cold starts.
    const cold = [];
    const wake = [];
    for (let i = 0; i < Math.min(ROUNDS, 10); i++) {
      await stopWorker(s);
      s.probe = null;
      await sleep(200);
      const t0 = performance.now();
      const st = await s.status();
      wake.push(performance.now() - t0);
      cold.push(st.readyMs - st.startedMs);
    }
    results.coldStart = { moduleStartToReady: stats(cold), wakeToFirstAnswer: stats(wake), hostConnected: hostAvailable() };

    // Memory, worker awake and idle.
    const st = await s.status();
    const w = await workerCdp(s);
    await w.send('HeapProfiler.collectGarbage');
    const heap = (await w.send('Runtime.getHeapUsage')).result;
    await w.close();
    results.memory = { jsHeapUsedBytes: heap.usedSize, jsHeapTotalBytes: heap.totalSize, wasmLinearMemoryBytes: st.memory?.wasmBytes ?? null, dynamicRules: st.compiled?.rules ?? null };
  } finally {
    await s.close();
  }

  if (!results.urlBlocklist.landed.startsWith('chrome-error://')) throw new Error(`URLBlocklist did not block: ${results.urlBlocklist.landed}`);
  if (!results.gatehouse.landed.includes('/block.html#')) throw new Error(`Gatehouse did not block: ${results.gatehouse.landed}`);
  const g = results.gatehouse;
  const f = results.urlBlocklist;
  results.ratios = {
    blockPageLoadVsUrlBlocklist: round1(g.load.median / f.load.median),
    verdictShownVsUrlBlocklist: round1(g.ready.median / f.load.median),
    verdictRenderedVsUrlBlocklistPageClock: round1(g.inPage.median / f.inPage.median),
  };
  console.log(`Chromium ${results.chromium}`);
  console.log(`navigation → Chromium URLBlocklist error page loaded: median ${round1(f.load.median)} ms (p90 ${round1(f.load.p90)})`);
  console.log(`navigation → Gatehouse block page loaded:            median ${round1(g.load.median)} ms (p90 ${round1(g.load.p90)})  ratio ${results.ratios.blockPageLoadVsUrlBlocklist}×`);
  console.log(`navigation → Gatehouse verdict rendered:             median ${round1(g.ready.median)} ms (p90 ${round1(g.ready.p90)})  ratio ${results.ratios.verdictShownVsUrlBlocklist}×`);
  console.log(`page clock: URLBlocklist page loaded ${round1(f.inPage.median)} ms; Gatehouse explanation on screen ${round1(g.inPage.median)} ms (p90 ${round1(g.inPage.p90)})  ratio ${results.ratios.verdictRenderedVsUrlBlocklistPageClock}×`);
  const c = results.coldStart;
  console.log(`service worker cold start → enforcement ready:       median ${round1(c.moduleStartToReady.median)} ms (p90 ${round1(c.moduleStartToReady.p90)}; host ${c.hostConnected ? 'connected' : 'absent'})`);
  console.log(`wake by message → first answer (incl. ready):        median ${round1(c.wakeToFirstAnswer.median)} ms`);
  const m = results.memory;
  console.log(`service worker memory: JS heap ${(m.jsHeapUsedBytes / 1048576).toFixed(2)} MiB used of ${(m.jsHeapTotalBytes / 1048576).toFixed(2)} MiB; wasm linear memory ${(m.wasmLinearMemoryBytes / 1048576).toFixed(2)} MiB; ${m.dynamicRules} dynamic rules`);
  fs.writeFileSync(artifactPath('bench.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log(`written ${artifactPath('bench.json')}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
