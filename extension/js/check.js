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
  /** Per engine: a view of its input buffer, remade when the module's memory grows. */
  const views = new WeakMap();
  /** The last engine and its view (the worker has one engine per policy): no map look-up. */
  let lastEngine = null;
  let lastView = null;
  const viewOf = (engine) => {
    // A grown memory detaches the old buffer: its views read as empty.
    if (engine === lastEngine && lastView.byteLength !== 0) return lastView;
    let view = views.get(engine);
    if (!view || view.byteLength === 0) {
      view = new Uint8Array(wasm.memory.buffer, engine.inputBuffer(), engine.inputCapacity());
      views.set(engine, view);
    }
    lastEngine = engine;
    lastView = view;
    return view;
  };
  return (engine, url, type, nowMs) => {
    const typeCode = typeCodes.get(type);
    const { read, written } = encoder.encodeInto(url, viewOf(engine));
    // Too long for the buffer, or a type the engine does not know: the string call says why.
    if (read !== url.length || typeCode === undefined) return engine.check(url, type, nowMs);
    const code = engine.checkInput(written, typeCode, nowMs);
    if (code === NOT_APPLICABLE) return null;
    if (code === INVALID_INPUT) return engine.check(url, type, nowMs);
    return engine.brief(code);
  };
}
