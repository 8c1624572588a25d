// The worker's hot call, timed the same way wherever it runs: in Node (tests/wasm/bench.mjs) and
// in a Chromium page (tests/wasm/chromium.mjs), whose JavaScript engine and TextEncoder are the
// ones the service worker really has. Plain ES module, no Node APIs.
//
// Method: whole passes over the workload, two warm-up passes, then nine measured passes with the
// engines interleaved; the median pass divided by the URL count.
import { writeUrl } from '../../extension/js/check.js';

export const WARM_UP = 2;
export const ROUNDS = 9;

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Nanoseconds per URL of `call(engine, url)` over `urls`, per engine, and what each stopped. */
export function timeCalls(engines, urls, call) {
  const samples = engines.map(() => []);
  const stopped = engines.map(() => 0);
  for (let round = 0; round < WARM_UP + ROUNDS; round++) {
    engines.forEach((engine, i) => {
      let n = 0;
      const start = performance.now();
      for (const url of urls) {
        const action = call(engine, url)?.action;
        if (action === 'block' || action === 'warn') n++;
      }
      const ms = performance.now() - start;
      if (round >= WARM_UP) samples[i].push((ms * 1e6) / urls.length);
      stopped[i] = n;
    });
  }
  return { nsPerUrl: samples.map(median), stopped };
}

/**
 * `wasm`: what tests/wasm/engine.mjs's `loadEngine({ broad: true })` returns; `lines`: the
 * workload. Measures check.js (the worker's call) on the embedded default and on `bigPolicy`,
 * and the boundary alone: the URL written into the input buffer as check.js writes it, then one
 * call of an export that does nothing (not `about:blank`, which the URL parser takes through its
 * slow path). Returns the engines too, context set, for more measurements.
 */
export function measureHotPath(wasm, lines, bigPolicy, nowMs) {
  // Each URL a string of its own, as the worker's event objects bring them: `split` makes
  // slices of one big string, which V8 reads through an indirection.
  const urls = JSON.parse(JSON.stringify(lines));
  const engines = [wasm.Engine.embeddedDefault(), new wasm.Engine(bigPolicy)];
  for (const engine of engines) engine.setContext({ nowMs });
  const check = timeCalls(engines, urls, (engine, url) => wasm.check(engine, url, 'main_frame', nowMs));
  const encoder = new TextEncoder();
  const [engine] = engines;
  const input = new Uint8Array(wasm.memory.buffer, engine.inputBuffer(), engine.inputCapacity());
  const copy = timeCalls([engine], urls, (_, url) => {
    writeUrl(encoder, url, input);
    return null;
  }).nsPerUrl[0];
  const boundary = timeCalls([engine], urls, (e, url) => {
    writeUrl(encoder, url, input);
    e.inputCapacity();
    return null;
  }).nsPerUrl[0];
  return { engines, check: check.nsPerUrl, stopped: check.stopped, boundary, copy };
}
