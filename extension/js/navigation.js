// Navigations as the worker sees them (webNavigation): the audit trail of what was stopped or
// loaded, and the safety net for what the rules could not stop — a page restored from the
// back/forward cache, a single-page app moving to a blocked path in place, rules gone stale.
// The verdict is the engine's (`verdictOf`); this only acts on it.

/**
 * `observe(phase, details)` for phases 'before', 'committed' and 'history'. `verdictOf(url, type)`
 * is the engine's brief verdict (null: Gatehouse does not apply; throws on a URL it cannot
 * parse); `rulesStale()` says whether a change the installed rules expect has fallen due, and
 * `catchUp()` recompiles for it.
 */
export function createNavigationWatch({ verdictOf, rulesStale, catchUp, audit, auditLocation, blockUrl, tabs, siteData }) {
  return async function observe(phase, details) {
    const stale = rulesStale();
    catchUp();
    const main = details.frameId === 0;
    let verdict;
    try {
      verdict = verdictOf(details.url, main ? 'main_frame' : 'sub_frame');
    } catch {
      return; // not a URL the engine can parse: nothing to classify.
    }
    if (!verdict) return;
    const base = {
      action: verdict.action,
      reason: verdict.reason,
      category: verdict.category,
      service: verdict.service?.id ?? null,
      rule: verdict.matchedRule,
      approval: verdict.approval?.id ?? null,
      frame: main ? 'main' : 'sub',
      ...auditLocation(details.url),
    };
    const stopped = verdict.action === 'block' || verdict.action === 'warn';
    if (phase === 'before') {
      // The rule redirects (or blocks) this request; record the attempt.
      if (stopped) audit({ kind: verdict.action === 'block' ? 'blocked' : 'warned', ...base });
      // Stale rules let this request through (e.g. an approval just ended): do not wait for it
      // to commit.
      if (stale && main && verdict.action === 'block') await tabs.update(details.tabId, { url: blockUrl(details.url) });
      return;
    }
    if (stopped) {
      // A categorised page committed although the verdict stops it: a rule missed (a page
      // restored from the back/forward cache never reaches the network, where the rules act), or
      // a single-page app changed its path in place.
      audit({ kind: phase === 'history' ? 'in_page_navigation' : 'rule_miss', ...base });
      if (main) await tabs.update(details.tabId, { url: blockUrl(details.url) });
      return;
    }
    audit({ kind: 'loaded', ...base });
    siteData.seen(details.url);
  };
}
