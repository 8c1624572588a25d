// The approval desk's signed revocation list (policy: approvals.revocationListUrl): fetched on an
// alarm, verified and applied by the engine (`applyRevocationList`), re-applied to every new
// engine after a policy change. A list that does not verify is ignored and reported — it can only
// ever add revocations, never lift one.
//
// The last good list is kept in storage.local so that revocations hold while the desk is out of
// reach. That copy is in the user's profile: an older signed list put back there could lift a
// revocation, so the first fetch of every browser session is unconditional (no If-None-Match from
// storage) and replaces it; later fetches revalidate with the ETag held for this session only.

import { storedValue } from './stored-list.js';
import { alarms, safe, storage } from './ext.js';

const LIST_KEY = 'gatehouse.revocationList';
const ETAG_KEY = 'gatehouse.revocationListEtag';
/** The largest list accepted (the engine caps it too). */
const MAX_BYTES = 1 << 20;

/**
 * `state` is the worker's (`policy`, `revocationList`), `policyInfo()` the policy's settings,
 * `recompile(reason)` the worker's, `alarm` the name of the list's alarm; `fetchList(url,
 * headers)` is `fetch` (a parameter for the tests of this module).
 */
export function createRevocations({
  state, policyInfo, recompile, alarm,
  fetchList = (url, headers) => fetch(url, { headers, credentials: 'include', cache: 'no-store' }),
}) {
  const kept = storedValue('local', LIST_KEY, () => null, (v) => v === null || (typeof v?.jws === 'string' && typeof v?.url === 'string'));

  /** Applies the kept list (if it is for `url`) to a freshly made engine; returns the count. */
  async function applyKept(engine, url) {
    const list = await kept.read();
    if (!url || list?.url !== url) return 0;
    try {
      return engine.applyRevocationList(list.jws);
    } catch {
      return 0; // verified when it was kept; a policy without that key no longer trusts it
    }
  }

  /**
   * Fetches the list from `url` and applies it to `engine`. Returns `{status, added, error}`:
   * `unchanged` (304), `applied`, or `rejected`/`unreachable` with the error (nothing changed).
   */
  async function fetchAndApply(engine, url) {
    const checkedMs = Date.now();
    const etag = (await storage.session(ETAG_KEY))[ETAG_KEY];
    let response;
    try {
      response = await fetchList(url, etag?.url === url ? { 'If-None-Match': etag.value } : {});
    } catch (err) {
      return { status: 'unreachable', url, checkedMs, added: 0, error: String(err?.message ?? err) };
    }
    if (response.status === 304) return { status: 'unchanged', url, checkedMs, added: 0, error: null };
    if (!response.ok) return { status: 'unreachable', url, checkedMs, added: 0, error: `HTTP ${response.status}` };
    const jws = (await response.text()).trim();
    if (jws.length > MAX_BYTES) return { status: 'rejected', url, checkedMs, added: 0, error: `larger than ${MAX_BYTES} bytes` };
    let added;
    try {
      added = engine.applyRevocationList(jws);
    } catch (err) {
      return { status: 'rejected', url, checkedMs, added: 0, error: String(err?.message ?? err) };
    }
    await kept.update(() => ({ value: { url, jws, savedMs: checkedMs } }));
    const tag = response.headers.get('ETag');
    await storage.setSession({ [ETAG_KEY]: tag ? { url, value: tag } : null });
    return { status: 'applied', url, checkedMs, added, error: null };
  }

  /**
   * A new engine starts from the policy's own revoked list: the desk's last good list goes back
   * in at once (applyKept), and its alarm follows the policy's interval.
   */
  async function forPolicy() {
    const feed = policyInfo()?.revocationList ?? null;
    if (!feed) {
      state.revocationList = null;
      await alarms.clear(alarm);
      return;
    }
    await applyKept(state.policy.engine, feed.url);
    const existing = await safe('alarms.get', () => chrome.alarms.get(alarm), null);
    if (existing?.periodInMinutes !== feed.minutes) await alarms.set(alarm, { periodInMinutes: feed.minutes });
  }

  /** Fetches the desk's revocation list; what it revokes is out of force at once. */
  async function refresh() {
    const feed = policyInfo()?.revocationList ?? null;
    if (!feed) return;
    const result = await fetchAndApply(state.policy.engine, feed.url);
    state.revocationList = { ...result, minutes: feed.minutes };
    if (result.status === 'rejected') console.warn('gatehouse: the revocation list was ignored:', result.error);
    // A newly signed list can revoke, and its signing time is what keeps approvals honoured
    // (approvals.revocationListMaxHours): either way the rules follow at once.
    if (result.status === 'applied') await recompile('revocation list');
  }

  return { forPolicy, refresh };
}
