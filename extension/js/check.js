// The worker's hot call, `engine.check(url, type, nowMs)`, without wasm-bindgen's string
// passing: the URL is written straight into the engine's input buffer (no allocation) and the
// engine answers with a number. The verdict is the engine's; this only moves bytes
// (wasm-core/src/wasm.rs `checkInput`). Measured by tests/wasm/bench.mjs, in Node and Chromium.

const NOT_APPLICABLE = 0;
const INVALID_INPUT = 0xffffffff;
/**
 * URLs up to this length are copied a character at a time, and handed to TextEncoder only if one
 * was not ASCII: Chromium's TextEncoder.encodeInto costs about 220 ns a call before its first
 * byte, the loop about 2 ns a character (Chromium 156, 45-character URLs: 90–100 ns against
 * 310 ns; tests/wasm/bench.mjs). Longer URLs are rare and cost the same either way.
 */
const ASCII_COPY_MAX = 160;

/**
 * Writes `url` into `view` as UTF-8; returns the number of bytes, or -1 when it does not fit.
 * `encoder` is a TextEncoder, for URLs that are long or not ASCII.
 */
export function writeUrl(encoder, url, view) {
  const length = url.length;
  if (length <= ASCII_COPY_MAX && length <= view.length) {
    let seen = 0;
    for (let i = 0; i < length; i++) {
      const c = url.charCodeAt(i);
      seen |= c;
      view[i] = c;
    }
    if (seen <= 0x7f) return length;
  }
  const { read, written } = encoder.encodeInto(url, view);
  return read === length ? written : -1;
}

/**
 * `check(engine, url, type, nowMs)` for engines of the module whose exports are `wasm` (what the
 * wasm-bindgen init function resolves to): `null` when Gatehouse does not apply, else the frozen
 * brief verdict; throws on a URL the engine cannot parse, as `engine.check` does.
 */
export function checker(wasm, Engine) {
  const encoder = new TextEncoder();
  const typeCodes = new Map(Engine.resourceTypes().map((name, code) => [name, code]));
  /** Per engine: a view of its input buffer, and the array its brief verdicts are in. */
  const states = new WeakMap();
  /** The last engine and its state (the worker has one engine per policy): no map look-up. */
  let lastEngine = null;
  let last = null;
  const stateOf = (engine) => {
    // A grown memory detaches the old buffer: its views read as empty.
    if (engine === lastEngine && last.view.byteLength !== 0) return last;
    let state = states.get(engine);
    if (!state) {
      state = { view: null, briefs: engine.briefTable() };
      states.set(engine, state);
    }
    if (!state.view || state.view.byteLength === 0) {
      state.view = new Uint8Array(wasm.memory.buffer, engine.inputBuffer(), engine.inputCapacity());
    }
    lastEngine = engine;
    last = state;
    return state;
  };
  return (engine, url, type, nowMs) => {
    const typeCode = typeCodes.get(type);
    const state = stateOf(engine);
    const written = writeUrl(encoder, url, state.view);
    // Too long for the buffer, or a type the engine does not know: the string call says why.
    if (written < 0 || typeCode === undefined) return engine.check(url, type, nowMs);
    const code = engine.checkInput(written, typeCode, nowMs);
    if (code === NOT_APPLICABLE) return null;
    if (code === INVALID_INPUT) return engine.check(url, type, nowMs);
    return state.briefs[code - 1];
  };
}
