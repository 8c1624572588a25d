// The reason codes a verdict can carry: wasm-core's `Reason` (decide.rs), in its order.
// tests/browser/static.test.mjs checks this list against decide.rs and every locale's
// `reason_<code>` sentence; tests/wasm checks it against the engine's `Engine.reasonCodes()`.

export const REASONS = Object.freeze([
  'not_web', 'uncategorised', 'out_of_scope', 'allowlisted', 'approved', 'category_off',
  'monitored', 'adaptation_period', 'warned', 'blocked', 'proceeded',
]);
