// Tamper finding 12: audit events queued while the native host is unavailable lived in
// storage.session (memory) and vanished when the browser closed. Now they wait in storage.local
// and reach the host's log after a restart — also when several arrive at once in a worker that
// has just woken (the start-up race of `x ??= await …`, issue 10).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostAvailable, openScenario, sleep } from './lib/harness.mjs';
import { stopWorker } from './lib/worker.mjs';

const BLOCKED = [
  'https://mail.google.com/mail/u/0/',
  'https://www.dropbox.com/home',
  'https://web.whatsapp.com/',
  'https://outlook.live.com/mail/0/',
  'https://web.telegram.org/a/',
];

if (!hostAvailable()) throw new Error('GATEHOUSE_HOST_BIN not built: these scenarios need the real native host');

test('events queued while the host is unavailable reach its log after a browser restart', async () => {
  const first = await openScenario('audit-queue', { policy: null, host: false });
  await first.waitFor((st) => st.readyMs && st.host?.status === 'unavailable' && st.compiled?.install?.ok, 'ready without a host');
  if (first.probe) await first.probe.close();
  // Five blocked navigations at once, into a worker that has just been stopped: each wakes it
  // and queues an event while the queue is still being read from storage.
  await stopWorker(first);
  const pages = await Promise.all(BLOCKED.map(() => first.context.newPage()));
  await Promise.all(pages.map((p, i) => p.goto(BLOCKED[i]).catch(() => {})));
  for (const [i, p] of pages.entries()) assert.equal(p.url(), first.blockUrl(BLOCKED[i]));
  // (A worker without the persistent queue has no `auditQueue` in its status.)
  const st = await first.waitFor((x) => x.auditQueue === undefined || x.auditQueue?.events >= BLOCKED.length, 'the blocked navigations queued');
  assert.equal(st.host.status, 'unavailable');
  await sleep(1000);
  await first.stop();

  // The host is back with the next start.
  const second = await openScenario('audit-queue', { reuse: first, host: true });
  try {
    const origins = BLOCKED.map((u) => new URL(u).origin);
    const got = await second.waitForAudit((e) => e.kind === 'blocked' && e.atMs < second.launchedMs && origins.includes(e.origin), 'blocked events from before the restart', BLOCKED.length, 20_000);
    assert.deepEqual([...new Set(got.map((e) => e.origin))].sort(), [...origins].sort(), 'every queued navigation reached the host log');
    assert.ok(got.every((e) => e.queued === true), 'marked as delivered late');
    const after = await second.waitFor((x) => x.host?.status === 'connected' && x.auditQueue?.events === 0, 'queue delivered');
    assert.equal(after.auditQueue.dropped, 0);
  } finally {
    await second.close();
  }
});
