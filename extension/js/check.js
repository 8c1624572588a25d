// The worker's hot call, `engine.check(url, type, nowMs)`, without wasm-bindgen's string
// passing: the URL is encoded straight into the engine's input buffer (TextEncoder.encodeInto,
// no allocation) and the engine answers with a number. The verdict is the engine's; this only
// moves bytes (wasm-core/src/wasm.rs `checkInput`). Measured by tests/wasm/bench.mjs.

const NOT_APPLICABLE = 0;
const INVALID_INPUT = 0xffffffff;

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
    const { read, written } = encoder.encodeInto(url, state.view);
    // Too long for the buffer, or a type the engine does not know: the string call says why.
    if (read !== url.length || typeCode === undefined) return engine.check(url, type, nowMs);
    const code = engine.checkInput(written, typeCode, nowMs);
    if (code === NOT_APPLICABLE) return null;
    if (code === INVALID_INPUT) return engine.check(url, type, nowMs);
    return state.briefs[code - 1]; // engine.brief(code), without the call
  };
}
