// The facts the native host vouches for — identity, network, approval tokens — read into the
// worker's state. Each refresher answers whether the facts changed; the worker decides what a
// change means (a recompile). A host that fails a request is treated as gone, through `onLost`.

/** The first request to the host also starts it: allow for a cold process start. */
const HELLO_TIMEOUT_MS = 4000;

const errorOf = (err) => err?.toJSON?.() ?? String(err);

/**
 * `state` is the worker's (host, identity, network, tokens, problems, …), `host` the client
 * (host.js), `probeHosts()` the policy's, `flushAudit()` sends queued events once the host is
 * back, `onLost(error)` the worker's one handler for the host going away.
 */
export function createHostFacts({ state, host, probeHosts, flushAudit, onLost }) {
  /** Re-reads network facts; returns whether they changed. */
  async function refreshNetwork() {
    state.networkCheckedMs = Date.now();
    try {
      const network = await host.request('network', { probeHosts: probeHosts() });
      const changed = JSON.stringify(network) !== JSON.stringify(state.network);
      state.network = network;
      return changed;
    } catch (err) {
      state.host.factErrors = { ...state.host.factErrors, network: errorOf(err) };
      const changed = state.network !== null;
      state.network = null;
      return changed;
    }
  }

  /** Re-reads approval tokens; returns whether they changed. */
  async function refreshApprovals() {
    try {
      const reply = await host.request('approvals');
      const tokens = Array.isArray(reply?.tokens) ? reply.tokens : [];
      const changed = JSON.stringify(tokens) !== JSON.stringify(state.tokens);
      state.tokens = tokens;
      state.problems = Array.isArray(reply?.problems) ? reply.problems : [];
      return changed;
    } catch (err) {
      state.host.factErrors = { ...state.host.factErrors, approvals: errorOf(err) };
      const changed = state.tokens.length > 0;
      state.tokens = [];
      return changed;
    }
  }

  /** Asks the host for everything; returns whether it answered. Never throws. */
  async function refreshAll() {
    let hello;
    try {
      hello = await host.request('hello', { extension: chrome.runtime.getManifest().version }, { timeout: HELLO_TIMEOUT_MS });
    } catch (err) {
      if (host.connected) {
        // Answered with an error or not at all: treat it as gone, through the one handler.
        host.close();
        onLost(err);
      }
      return false;
    }
    state.host = { status: 'connected', hello, error: null, checkedMs: Date.now() };
    const [identity] = await Promise.allSettled([host.request('identity'), refreshNetwork(), refreshApprovals()]);
    if (identity.status === 'fulfilled') {
      state.identity = identity.value;
    } else {
      state.identity = null;
      state.host.factErrors = { ...state.host.factErrors, identity: errorOf(identity.reason) };
    }
    await flushAudit();
    return true;
  }

  /** Everything learnt from the host, dropped: it is gone. */
  function forget(error) {
    state.host = { status: 'unavailable', hello: null, error: error?.toJSON?.() ?? { message: String(error) }, checkedMs: Date.now() };
    state.identity = null;
    state.network = null;
    state.tokens = [];
    state.problems = [];
    state.approvals = [];
    state.rejected = [];
  }

  return { refreshAll, refreshNetwork, refreshApprovals, forget };
}
