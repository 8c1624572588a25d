// Messages from the extension's own pages (block and status): what each may ask, and the answer.
// The engine decides and explains; these handlers carry its answers, check what the user typed,
// and hand state changes to the worker's serial queue. Only this extension's pages are heard: no
// content scripts, no externally_connectable.

const MIN_PROCEED_REASON = 5;
const MIN_JUSTIFICATION = 10;
const MAX_TEXT = 2000;

/**
 * The `runtime.onMessage` listener for the worker. `w` is the worker's wiring: its `state`, the
 * `engine()` with the context set, `decide`, `policyInfo`, `serial`, `recompile`, the host
 * refreshers, `saveProceeds`, `importToken`, the approval `desk` (desk.js) and `pollDesk`,
 * `audit`/`auditTrail`/`auditLocation`, and getters for the readiness promise and the wasm
 * exports (both made after the listeners are registered).
 */
export function createPageMessages(w) {
  const { state } = w;

  function who() {
    const id = state.identity;
    return id ? { user: id.user ?? null, principal: id.principal ?? null, machine: id.machine ?? null, domain: id.domain ?? null, joined: !!id.joined } : null;
  }

  function scope() {
    try {
      return w.engine().scope();
    } catch (err) {
      return { inScope: true, reason: 'unknown', explanation: String(err?.message ?? err) };
    }
  }

  /** Message type → handler(message) → data. Unknown types get no answer at all. */
  const handlers = {
    async 'block.info'({ url }) {
      // The engine explains everything: the verdict (`proceeded` after a continue), approvals
      // that do not apply and why, the policy's limits.
      const page = w.engine().explain(String(url), Date.now());
      const info = w.policyInfo();
      return {
        url: String(url),
        verdict: page.verdict,
        adaptationEndMs: page.adaptationEndMs,
        approvalNotes: page.approvalNotes,
        who: who(),
        scope: scope(),
        desk: page.verdict.service ? await w.desk.latest(page.verdict.service.id) : null,
        host: { status: state.host.status },
        policy: {
          source: state.policy.source,
          department: info?.department ?? null,
          contact: info?.contact ?? null,
          message: info?.message ?? null,
          requests: page.requests,
          warnProceedMinutes: page.warnProceedMinutes,
        },
      };
    },

    async 'block.proceed'({ url, reason }) {
      url = String(url);
      const why = text(reason, 'reason', MIN_PROCEED_REASON);
      const verdict = w.decide(url, 'main_frame');
      // The continue is engine input, like an approval: the compiled rules then allow exactly
      // this service's patterns (never its host), until the engine's next change ends it.
      const { expiresMs } = await w.serial('proceed', async () => {
        const proceed = w.engine().proceed(url, Date.now()); // throws unless the verdict warns
        await w.saveProceeds([...state.proceeds.filter((p) => p.service !== proceed.service), proceed]);
        await w.recompile('proceeded');
        if (!state.compiled?.install?.ok) throw new Error(state.compiled?.error ?? 'the rules could not be installed');
        return { expiresMs: proceed.untilMs };
      });
      w.audit({
        kind: 'proceeded',
        action: 'warn',
        reason: verdict.reason,
        category: verdict.category,
        service: verdict.service?.id ?? null,
        justification: why,
        expiresMs,
        ...w.auditLocation(url),
      });
      return { expiresMs };
    },

    async 'block.request'({ url, justification, days }) {
      url = String(url);
      const info = w.policyInfo();
      if (!info) throw new Error('the policy could not be read');
      const maxDays = info.requests.maxDays;
      const n = Number(days);
      if (!Number.isInteger(n) || n < 1 || n > maxDays) throw new Error(`days must be a whole number from 1 to ${maxDays}`);
      const verdict = w.decide(url, 'main_frame');
      const id = state.identity;
      const record = {
        requestId: crypto.randomUUID(),
        user: id?.user ?? null,
        principal: id?.principal ?? null,
        machine: id?.machine ?? null,
        service: verdict.service?.id ?? null,
        category: verdict.category,
        origin: safeOrigin(url),
        justification: text(justification, 'justification', MIN_JUSTIFICATION),
        days: n,
        createdMs: Date.now(),
      };
      let posted = null;
      let desk = null;
      if (info?.requests?.url) {
        try {
          const response = await fetch(info.requests.url, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify(record),
            credentials: 'include',
          });
          posted = { ok: response.ok, status: response.status };
          // An approval desk answers with the request's status URL: the worker follows it.
          if (response.ok) desk = await w.desk.remember(info.requests.url, await response.json().catch(() => null), record);
        } catch (err) {
          posted = { ok: false, status: null, error: String(err?.message ?? err) };
        }
      }
      if (desk) await w.serial('desk', w.pollDesk);
      w.audit({ kind: 'approval_requested', requestId: record.requestId, service: record.service, category: record.category, days: n, origin: record.origin, posted: posted?.ok ?? null, desk: desk?.id ?? null });
      return { record, posted, desk, mail: info?.requests?.mail ?? null, file: info?.requests?.file ?? true };
    },

    /** The desk's answer for the service of `url`, asked now (the block page asks while it waits). */
    async 'block.desk'({ url }) {
      const verdict = w.decide(String(url), 'main_frame');
      if (!verdict.service) return { desk: null, action: verdict.action };
      await w.serial('desk', w.pollDesk);
      return { desk: await w.desk.latest(verdict.service.id), action: w.decide(String(url), 'main_frame').action };
    },

    async 'status.get'() {
      return statusSnapshot();
    },

    async 'status.refresh'() {
      await w.serial('refresh', async () => {
        await w.refreshFromHost();
        await w.reloadPolicy();
      });
      return statusSnapshot();
    },

    async 'status.import'({ token }) {
      const imported = await w.importToken(text(token, 'token', 1));
      await w.serial('import', async () => {
        await w.refreshApprovals();
        await w.recompile('approval imported');
      });
      const file = imported?.file ?? null;
      const result = [...state.approvals, ...state.rejected].find((r) => r.file && r.file === file) ?? null;
      w.audit({ kind: 'approval_imported', file, accepted: result?.ok ?? null, rejection: result?.reason ?? null });
      return { imported, result, status: await statusSnapshot() };
    },
  };

  async function statusSnapshot() {
    const info = w.policyInfo();
    const [recent, auditQueue] = await Promise.all([w.auditTrail.recent(), w.auditTrail.queued().catch(() => null)]);
    return {
      extension: { id: chrome.runtime.id, version: chrome.runtime.getManifest().version },
      engineError: state.engineError,
      startedMs: state.startedMs,
      readyMs: state.readyMs,
      policy: state.policy
        ? { source: state.policy.source, error: state.policy.error, savedMs: state.policy.savedMs, loadedMs: state.policy.loadedMs, warnings: state.policy.warnings, info }
        : null,
      host: state.host,
      identity: state.identity,
      network: state.network,
      networkCheckedMs: state.networkCheckedMs,
      networkEvent: state.networkEvent,
      scope: state.policy ? scope() : null,
      approvals: state.approvals.map((r) => r.approval),
      rejected: state.rejected,
      problems: state.problems,
      compiled: state.compiled,
      broadTier: state.broadTier ?? null,
      revocationList: state.revocationList ?? null,
      integrity: state.integrity,
      tabs: state.tabs,
      siteData: state.siteData,
      auditQueue,
      prediction: state.prediction,
      memory: { wasmBytes: w.wasm()?.memory?.buffer?.byteLength ?? null },
      recent,
    };
  }

  return function onMessage(message, sender, sendResponse) {
    const type = message?.type;
    if (sender.id !== chrome.runtime.id || typeof type !== 'string' || !Object.hasOwn(handlers, type)) return false;
    w.ready()
      .then(() => {
        // Without an engine only the status answers: it shows the error beside what still runs
        // (the rules' integrity, the tabs sent through the rules again, the audit queue).
        if (!state.policy && type !== 'status.get') throw new Error(state.engineError ?? 'the engine is not ready');
        return handlers[type](message);
      })
      .then(
        (data) => sendResponse({ ok: true, data }),
        (err) => sendResponse({ ok: false, error: String(err?.message ?? err) }),
      );
    return true; // the answer is asynchronous
  };
}

function text(value, field, min) {
  const s = typeof value === 'string' ? value.trim() : '';
  if (s.length < min) throw new Error(`${field} must be at least ${min} characters`);
  return s.slice(0, MAX_TEXT);
}

function safeOrigin(url) {
  try { return new URL(url).origin; } catch { return null; }
}
