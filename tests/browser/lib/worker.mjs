// The extension's service worker, driven the way DevTools does it.

import { sleep, withTimeout } from './harness.mjs';

/**
 * Stops the extension's service worker (ServiceWorker.stopAllWorkers from a page in the
 * extension's storage partition, https://chromedevtools.github.io/devtools-protocol/tot/ServiceWorker/)
 * and resolves once DevTools reports it stopped. The next event starts it again.
 */
export async function stopWorker(s) {
  const page = await s.context.newPage();
  await page.goto(s.extensionUrl('status.html'));
  const cdp = await s.context.newCDPSession(page);
  const versions = [];
  cdp.on('ServiceWorker.workerVersionUpdated', ({ versions: v }) => versions.push(...v));
  await cdp.send('ServiceWorker.enable');
  await sleep(500);
  const running = versions.find((v) => v.scriptURL.startsWith(s.extensionUrl('')) && v.runningStatus === 'running');
  // Stopping a worker that is not running proves nothing about what holds without it.
  if (!running) throw new Error(`the extension's worker is not running: ${JSON.stringify(versions)}`);
  const stopped = new Promise((resolve) => cdp.on('ServiceWorker.workerVersionUpdated', ({ versions: v }) => {
    if (v.some((x) => x.versionId === running.versionId && x.runningStatus === 'stopped')) resolve();
  }));
  await cdp.send('ServiceWorker.stopAllWorkers');
  await withTimeout(stopped, 20_000, 'the worker to stop');
  await cdp.detach();
  await page.close();
}
