// Requests sent to the department's approval desk (approval-service/) and what became of them.
// The desk answers a posted request with its id and a status URL; the worker keeps both, asks
// the status URL (on an alarm, and while a block page waits) and imports an approved token
// through the native host the moment it is there — no copy-paste. The desk's answer is only
// carried: the token is verified by the engine like any other (bound to user and machine), so a
// wrong or forged answer can open nothing.

import { alarms } from './ext.js';
import { storedValue } from './stored-list.js';

const KEY = 'gatehouse.deskRequests';
/** How often requests waiting at the approval desk are asked about (while any waits). */
const POLL_MINUTES = 1;
/** Requests kept (newest); older ones are forgotten, decided or not. */
const MAX_KEPT = 20;
/** Decided requests are shown for this long, then forgotten. */
const KEEP_DECIDED_MS = 30 * 24 * 3600 * 1000;
/** The longest denial reason shown (the desk caps it too). */
const MAX_REASON = 2000;

/**
 * `importToken(token)` stores a token through the native host (throws if it cannot);
 * `refreshApprovals()` re-reads the host's tokens, `recompile(reason)` and `audit(event)` are the
 * worker's, `alarm` the name of the polling alarm; `fetchStatus(url)` is `fetch` (a parameter for
 * the tests of this module).
 */
export function createDesk({
  importToken, refreshApprovals, recompile, audit, alarm,
  fetchStatus = (url) => fetch(url, { credentials: 'include', cache: 'no-store' }),
}) {
  const store = storedValue('local', KEY, () => [], Array.isArray);

  /**
   * Keeps the desk's answer to a posted request (`{id, statusUrl}`); the status URL must be on
   * the desk's own origin (the policy's `requests.url`). Returns the entry, or null if the
   * answer is not the desk's.
   */
  async function remember(requestsUrl, reply, record) {
    const id = typeof reply?.id === 'string' && reply.id.length <= 64 ? reply.id : null;
    let statusUrl = null;
    try {
      const url = new URL(String(reply?.statusUrl), requestsUrl);
      if (url.origin === new URL(requestsUrl).origin) statusUrl = url.href;
    } catch { /* not a URL: not kept */ }
    if (!id || !statusUrl) return null;
    const entry = {
      id,
      statusUrl,
      requestId: record.requestId,
      service: record.service,
      category: record.category,
      days: record.days,
      status: 'pending',
      createdMs: Date.now(),
      checkedMs: null,
      expiresMs: null,
      reason: null,
      error: null,
    };
    await store.update((list) => ({ value: [...list.filter((e) => e.id !== id), entry].slice(-MAX_KEPT) }));
    return entry;
  }

  /**
   * Asks the desk about the requests waiting there; an approval's token is imported and in force
   * at once. The alarm runs while any request waits.
   */
  async function poll() {
    const imported = await askPending();
    if (imported) {
      await refreshApprovals();
      await recompile('approved at the desk');
      audit({ kind: 'approval_imported', source: 'desk', count: imported });
    }
    if (await waiting()) await alarms.set(alarm, { periodInMinutes: POLL_MINUTES });
    else await alarms.clear(alarm);
  }

  /** At the worker's start: the alarm again if any request waits. */
  async function resume() {
    if (await waiting()) await alarms.set(alarm, { periodInMinutes: POLL_MINUTES });
  }

  /** Asks every pending request's status URL; returns how many tokens were imported. */
  async function askPending() {
    const now = Date.now();
    const list = await store.read();
    let imported = 0;
    for (const entry of list.filter((e) => e.status === 'pending')) {
      const next = await ask(entry);
      if (next.status === 'approved') imported++;
      await store.update((l) => ({ value: l.map((e) => (e.id === entry.id ? next : e)) }));
    }
    await store.update((l) => {
      const kept = l.filter((e) => e.status === 'pending' || now - (e.checkedMs ?? e.createdMs) < KEEP_DECIDED_MS);
      return kept.length === l.length ? { write: false } : { value: kept };
    });
    return imported;
  }

  /** One request's status, as the desk answers it now. */
  async function ask(entry) {
    const checked = { ...entry, checkedMs: Date.now() };
    let answer;
    try {
      const response = await fetchStatus(entry.statusUrl);
      if (!response.ok) return { ...checked, error: `HTTP ${response.status}` };
      answer = await response.json();
    } catch (err) {
      return { ...checked, error: String(err?.message ?? err) };
    }
    switch (answer?.status) {
      case 'pending':
        return { ...checked, error: null };
      case 'denied':
        return { ...checked, status: 'denied', reason: String(answer.reason ?? '').slice(0, MAX_REASON), error: null };
      case 'revoked':
        return { ...checked, status: 'revoked', error: null };
      case 'approved': {
        if (typeof answer.token !== 'string' || !answer.token) return { ...checked, error: 'approved, but the answer has no token' };
        try {
          await importToken(answer.token);
        } catch (err) {
          // Stays pending: the next poll imports it again (the host may be back by then).
          return { ...checked, error: `the token could not be stored: ${err?.message ?? err}` };
        }
        const expiresMs = Number.isFinite(answer.expiresMs) ? answer.expiresMs : null;
        return { ...checked, status: 'approved', expiresMs, days: Number.isInteger(answer.days) ? answer.days : entry.days, error: null };
      }
      default:
        return { ...checked, error: 'the desk gave an answer this version does not know' };
    }
  }

  /** The newest request for `service`, or null. */
  async function latest(service) {
    const list = await store.read();
    return list.filter((e) => e.service === service).at(-1) ?? null;
  }

  /** Whether any request is still waiting for a decision. */
  async function waiting() {
    return (await store.read()).some((e) => e.status === 'pending');
  }

  return { remember, poll, resume, latest };
}
