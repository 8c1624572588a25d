// The extension's single-writer storage lists and the audit queue, in Node with an in-memory
// chrome.storage whose reads take a while (as they do when a worker has just woken): the
// start-up race of `x ??= await storage.get(…)` (issue 10) lost every event but the last.

import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';

const areas = { local: new Map(), session: new Map() };
function area(map) {
  return {
    async get(key) {
      // The value as it was when asked, answered a little later.
      const value = map.has(key) ? { [key]: structuredClone(map.get(key)) } : {};
      await new Promise((r) => setTimeout(r, 5));
      return value;
    },
    async set(items) {
      await new Promise((r) => setTimeout(r, 1));
      for (const [k, v] of Object.entries(items)) map.set(k, structuredClone(v));
    },
  };
}
globalThis.chrome = { storage: { local: area(areas.local), session: area(areas.session) } };

const { storedList } = await import('../../extension/js/stored-list.js');
const { createAudit, AUDIT_QUEUE_MAX } = await import('../../extension/js/audit-queue.js');

beforeEach(() => {
  areas.local.clear();
  areas.session.clear();
});

test('concurrent pushes at start-up all land (no lost writes)', async () => {
  const list = storedList('local', 'k', 100);
  await Promise.all(Array.from({ length: 40 }, (_, i) => list.push({ i })));
  assert.equal(areas.local.get('k').items.length, 40);
  // A second instance (the next worker) reads what the first wrote.
  assert.equal((await storedList('local', 'k', 100).items()).length, 40);
});

test('past the cap the oldest are dropped and counted', async () => {
  const list = storedList('local', 'k', 3);
  for (let i = 0; i < 5; i++) await list.push({ i, atMs: i });
  const v = areas.local.get('k');
  assert.deepEqual(v.items.map((e) => e.i), [2, 3, 4]);
  assert.equal(v.dropped, 2);
  assert.equal(v.firstDroppedMs, 0);
});

test('audit: queued while the host is away, delivered with the count of dropped events', async () => {
  let connected = false;
  const sent = [];
  const audit = createAudit({ connected: () => connected, send: async (events) => { sent.push(...events); } });
  for (let i = 0; i < AUDIT_QUEUE_MAX + 7; i++) audit.record({ kind: 'blocked', n: i });
  assert.deepEqual(await audit.queued(), { events: AUDIT_QUEUE_MAX, dropped: 7 });
  connected = true;
  await audit.flush();
  assert.equal(sent.filter((e) => e.kind === 'blocked').length, AUDIT_QUEUE_MAX);
  assert.ok(sent.every((e) => e.kind === 'audit_dropped' || e.queued === true));
  const dropped = sent.filter((e) => e.kind === 'audit_dropped');
  assert.equal(dropped.length, 1);
  assert.equal(dropped[0].count, 7);
  assert.equal(sent.find((e) => e.kind === 'blocked').n, 7, 'the oldest were dropped, the newest kept');
  assert.deepEqual(await audit.queued(), { events: 0, dropped: 0 });
});

test('audit: a host that refuses keeps the events queued', async () => {
  const audit = createAudit({ connected: () => true, send: async () => { throw new Error('host gone'); } });
  audit.record({ kind: 'blocked' });
  await new Promise((r) => setTimeout(r, 50));
  await audit.flush();
  assert.deepEqual(await audit.queued(), { events: 1, dropped: 0 });
});
