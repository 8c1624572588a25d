// The block page's first step, a classic script in <head> that runs before the page is parsed:
// it asks the service worker for the explanation at once, so that the round trip overlaps the
// page's own loading; block.js awaits this answer (measured by tests/browser/bench.mjs).
globalThis.gatehouseBlockInfo = chrome.runtime.sendMessage({ type: 'block.info', url: location.hash.slice(1) });
