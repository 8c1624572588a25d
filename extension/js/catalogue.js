// What the wasm module knows besides a policy: the curated catalogue of services (for
// sitedata.js) and the broad tier, loaded into it from the extension's broad.txt.

/** `catalogue` and `loadBroadTier` are the wasm module's exports of those names. */
export function createCatalogue({ catalogue, loadBroadTier }) {
  /** The curated catalogue, or null if the module cannot give it (logged). */
  function curated() {
    try {
      return catalogue();
    } catch (err) {
      console.error('gatehouse: catalogue', err);
      return null;
    }
  }

  /**
   * The broad tier (`broad.txt`, shipped beside the wasm module) handed to the engine, which
   * refuses any text but the file it was built with (its SHA-512 is compiled in). Refused or
   * unreadable: the curated catalogue still decides and the broad rulesets still block (fail
   * closed); the status page shows the error.
   */
  async function loadBroad() {
    try {
      const response = await fetch(chrome.runtime.getURL('broad.txt'));
      if (!response.ok) throw new Error(`broad.txt: HTTP ${response.status}`);
      return { loaded: true, hosts: loadBroadTier(await response.text()) };
    } catch (err) {
      const error = `broad tier not loaded: ${err?.message ?? err}`;
      console.error('gatehouse:', error);
      return { loaded: false, error };
    }
  }

  return { curated, loadBroad };
}
