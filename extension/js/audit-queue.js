// The audit trail's way to the native host, and what happens while the host is away.
//
// Events that cannot be delivered wait in storage.local (not storage.session: that is memory and
// was lost when the browser closed), so a blocked navigation while the host is unavailable still
// reaches the host's log after a restart. The queue keeps the newest AUDIT_QUEUE_MAX events; any
// it had to drop are counted and reported as one `audit_dropped` event with the next delivery.
// Every change to the queue goes through one writer (stored-list.js), so concurrent events at
// start-up cannot overwrite each other.
//
// Limits, stated: storage.local lives in the user's profile. With the browser closed, the user can
// delete or add queued events; delivered events therefore carry `queued: true` and the
// extension's own `atMs`, while the host stamps its own `ts` on arrival (native-host/PROTOCOL.md
// `audit`). The record is the host's sink, not this queue.

import { storedList } from './stored-list.js';

/** How many undelivered events survive; about 300 bytes each in storage.local. */
export const AUDIT_QUEUE_MAX = 1000;
/** The host takes up to 500 events per `audit` request (PROTOCOL.md). */
const BATCH = 500;
const RECENT_MAX = 50;
const QUEUE_KEY = 'gatehouse.auditQueue';
const RECENT_KEY = 'gatehouse.recentEvents';

/**
 * @param {{send: (events: object[]) => Promise<unknown>, connected: () => boolean}} host
 *   send rejects when the host did not take the events.
 */
export function createAudit({ send, connected }) {
  const queue = storedList('local', QUEUE_KEY, AUDIT_QUEUE_MAX);
  const recent = storedList('session', RECENT_KEY, RECENT_MAX);

  const enqueue = (record) => queue.push(record).catch(() => {});

  /** Records one event: to the host now if it is there, otherwise into the queue. Never throws. */
  function record(event) {
    const entry = { ...event, atMs: Date.now() };
    recent.push(entry).catch(() => {});
    if (!connected()) {
      enqueue(entry);
      return;
    }
    send([entry]).catch(() => enqueue(entry));
  }

  /** Delivers the queue (and the count of dropped events); what the host refuses stays queued. */
  function flush() {
    return queue.update(async (v) => {
      let changed = false;
      while (connected() && (v.items.length || v.dropped)) {
        const take = Math.min(v.dropped ? BATCH - 1 : BATCH, v.items.length);
        const batch = v.items.slice(0, take).map((e) => ({ ...e, queued: true }));
        if (v.dropped) {
          batch.push({
            kind: 'audit_dropped',
            count: v.dropped,
            firstDroppedMs: v.firstDroppedMs,
            lastDroppedMs: v.lastDroppedMs,
            max: AUDIT_QUEUE_MAX,
            atMs: Date.now(),
          });
        }
        try {
          await send(batch);
        } catch {
          break; // still queued; the next host contact tries again
        }
        v.items.splice(0, take);
        v.dropped = 0;
        v.firstDroppedMs = null;
        v.lastDroppedMs = null;
        changed = true;
      }
      return { write: changed };
    }).catch(() => {});
  }

  return {
    record,
    flush,
    recent: () => recent.items().catch(() => []),
    queued: () => queue.update((v) => ({ result: { events: v.items.length, dropped: v.dropped }, write: false })),
  };
}
