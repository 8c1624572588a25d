// The facts the native host vouches for — identity, network, approval tokens — read into the
// worker's state, and when they are read again: at start, on the network and approvals alarms, at
// once on a network change event, on a retry alarm after the host went away. Each refresher
// answers whether the facts changed; on those occasions a change means a recompile. A host that
// fails a request is treated as gone, through the one handler `lost`. A token pasted on the
// status page or approved at the desk is stored through the host here too (`importToken`).

import { alarms } from './ext.js';

/** The first request to the host also starts it: allow for a cold process start. */
const HELLO_TIMEOUT_MS = 4000;
/** How soon to try the host again after it went away (alarms cannot fire sooner than 30 s). */
const HOST_RETRY_MINUTES = 1;
/** How long a burst of network events (offline, connection change, online) has to settle. */
const NETWORK_EVENT_SETTLE_MS = 1000;

const errorOf = (err) => err?.toJSON?.() ?? String(err);

/**
 * `state` is the worker's (host, identity, network, tokens, problems, …), `host` the client
 * (host.js), `probeHosts()` the policy's, `flushAudit()` sends queued events once the host is
 * back, `recompile(reason)` and `whenReady(label, task)` are the worker's, `retryAlarm` the name
 * of the alarm that tries the host again.
 */
export function createHostFacts({ state, host, probeHosts, flushAudit, recompile, whenReady, retryAlarm }) {
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

  /** Asks the host for everything; returns whether it answered (no retry then). Never throws. */
  async function refreshAll() {
    let hello;
    try {
      hello = await host.request('hello', { extension: chrome.runtime.getManifest().version }, { timeout: HELLO_TIMEOUT_MS });
    } catch (err) {
      if (host.connected) {
        // Answered with an error or not at all: treat it as gone, through the one handler.
        host.close();
        lost(err);
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
    await alarms.clear(retryAlarm);
    return true;
  }

  /** The one place that handles the host going away: everything learnt from it is dropped. */
  function lost(error) {
    state.host = { status: 'unavailable', hello: null, error: error?.toJSON?.() ?? { message: String(error) }, checkedMs: Date.now() };
    state.identity = null;
    state.network = null;
    state.tokens = [];
    state.problems = [];
    state.approvals = [];
    state.rejected = [];
    alarms.set(retryAlarm, { delayInMinutes: HOST_RETRY_MINUTES });
    whenReady('host lost', () => recompile('host unavailable'));
  }

  /** The network facts (every 30 s) or the approval tokens (every 5 minutes), again. */
  async function refreshPeriodic(what) {
    if (state.host.status !== 'connected') {
      if (await refreshAll()) await recompile('host available');
      return;
    }
    if (what === 'network' && (await refreshNetwork())) await recompile('network changed');
    if (what === 'approvals' && (await refreshApprovals())) await recompile('approvals changed');
  }

  let networkEventTimer = null;
  /** A network change event: one re-read of the facts once the burst has settled (the last event
   * — typically "online", the one that matters — always gets its re-read). */
  function networkEvent(reason) {
    clearTimeout(networkEventTimer);
    networkEventTimer = setTimeout(() => whenReady(reason, () => refreshNetworkNow(reason)), NETWORK_EVENT_SETTLE_MS);
  }

  async function refreshNetworkNow(reason) {
    state.networkEvent = { reason, atMs: Date.now() };
    if (state.host.status !== 'connected') {
      if (await refreshAll()) await recompile('host available');
    } else if (await refreshNetwork()) {
      await recompile(reason);
    }
  }

  /** Stores a token through the host (which must be there to keep it); throws why it could not. */
  async function importToken(token) {
    if (state.host.status !== 'connected' && !(await refreshAll())) {
      throw new Error(`the Gatehouse host is not available (${state.host.error?.message ?? 'unknown'}), so the token cannot be stored`);
    }
    try {
      return await host.request('import_approval', { token });
    } catch (err) {
      throw new Error(err?.message ?? String(err));
    }
  }

  return { refreshAll, refreshNetwork, refreshApprovals, refreshPeriodic, networkEvent, importToken, lost };
}
