// Small wrappers around chrome.* that never throw: every call resolves, to its value or to the
// given fallback, and failures are logged once with the API name. The service worker must keep
// going when one browser API misbehaves (e.g. a setting that policy controls, or storage.managed
// read in a profile without a schema), so no caller has to remember a try/catch.

const log = (api, err) => console.warn(`gatehouse: ${api} failed:`, err?.message ?? err);

/** Awaits `fn()`; on a throw or rejection logs it and resolves to `fallback`. */
export async function safe(api, fn, fallback = undefined) {
  try {
    return await fn();
  } catch (err) {
    log(api, err);
    return fallback;
  }
}

/** Like `safe`, but resolves to `{ok, value}` / `{ok: false, error}` so a caller can report why. */
export async function attempt(api, fn) {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    log(api, err);
    return { ok: false, error: String(err?.message ?? err) };
  }
}

export const storage = {
  managed: () => safe('storage.managed.get', () => chrome.storage.managed.get(null), {}),
  local: (keys) => safe('storage.local.get', () => chrome.storage.local.get(keys), {}),
  setLocal: (items) => safe('storage.local.set', () => chrome.storage.local.set(items), undefined),
  removeLocal: (keys) => safe('storage.local.remove', () => chrome.storage.local.remove(keys)),
  session: (keys) => safe('storage.session.get', () => chrome.storage.session.get(keys), {}),
  setSession: (items) => safe('storage.session.set', () => chrome.storage.session.set(items)),
};

export const dnr = {
  dynamicRules: () => safe('dnr.getDynamicRules', () => chrome.declarativeNetRequest.getDynamicRules(), []),
  sessionRules: () => safe('dnr.getSessionRules', () => chrome.declarativeNetRequest.getSessionRules(), []),
  updateDynamic: (opts) => attempt('dnr.updateDynamicRules', () => chrome.declarativeNetRequest.updateDynamicRules(opts)),
  updateSession: (opts) => attempt('dnr.updateSessionRules', () => chrome.declarativeNetRequest.updateSessionRules(opts)),
  enabledRulesets: () => safe('dnr.getEnabledRulesets', () => chrome.declarativeNetRequest.getEnabledRulesets(), null),
  updateRulesets: (opts) => attempt('dnr.updateEnabledRulesets', () => chrome.declarativeNetRequest.updateEnabledRulesets(opts)),
  /** Rules of a static ruleset switched off one by one (Chrome 111+); null when unknown. */
  disabledStaticRuleIds: (rulesetId) => safe('dnr.getDisabledRuleIds', () => chrome.declarativeNetRequest.getDisabledRuleIds({ rulesetId }), null),
  updateStaticRules: (opts) => attempt('dnr.updateStaticRules', () => chrome.declarativeNetRequest.updateStaticRules(opts)),
};

export const alarms = {
  /** Creates (or replaces) a named alarm; `when` in ms since epoch, or `periodInMinutes`. */
  set: (name, info) => safe('alarms.create', () => chrome.alarms.create(name, info)),
  clear: (name) => safe('alarms.clear', () => chrome.alarms.clear(name), false),
};

export const tabs = {
  update: (tabId, props) => safe('tabs.update', () => chrome.tabs.update(tabId, props), null),
  /** Every tab; `url` is filled in for the hosts the extension has access to (<all_urls>), so the
   * "tabs" permission is not needed (developer.chrome.com/docs/extensions/reference/api/tabs#perms). */
  query: (info = {}) => safe('tabs.query', () => chrome.tabs.query(info), []),
  reload: (tabId) => safe('tabs.reload', () => chrome.tabs.reload(tabId, { bypassCache: true })),
};

export const frames = {
  /** The frames of a tab, or [] (webNavigation permission). */
  all: (tabId) => safe('webNavigation.getAllFrames', () => chrome.webNavigation.getAllFrames({ tabId }), []).then((f) => f ?? []),
};

export const browsingData = {
  /** Removes `dataTypes` for exactly `origins`; resolves to {ok, error}. */
  removeForOrigins: (origins, dataTypes) => attempt('browsingData.remove', () => chrome.browsingData.remove({ origins }, dataTypes)),
};

/**
 * Turns off network prediction (preconnect/prefetch), which would open TCP and TLS connections to
 * a blocked host before any declarativeNetRequest rule runs (docs/browser-testing.md).
 * Where policy (NetworkPredictionOptions) already controls it, the set fails harmlessly.
 */
export async function disableNetworkPrediction() {
  const setting = chrome.privacy?.network?.networkPredictionEnabled;
  if (!setting) return 'unavailable';
  const current = await safe('privacy.get', () => setting.get({}), null);
  if (current && current.value === false) return 'off';
  if (current && current.levelOfControl !== 'controllable_by_this_extension'
      && current.levelOfControl !== 'controlled_by_this_extension') {
    return `not controllable (${current.levelOfControl})`;
  }
  const done = await attempt('privacy.set', () => setting.set({ value: false }));
  return done.ok ? 'off' : `failed: ${done.error}`;
}
