// The native-messaging client for gatehouse-host (native-host/PROTOCOL.md).
//
// One long-lived port; requests carry an id and resolve when the reply with that id arrives.
// Everything that can go wrong on the wire — host not installed, not allowed, crashed, timed
// out, or answering with an error envelope — rejects the request with a HostError, and the port
// reports its end exactly once, through the `onDisconnect` callback given to createHostClient:
// the service worker's single place that resets what it derived from the host.

import { HOST_NAME, PROTOCOL_VERSION, TRANSPORT, errorName } from './host-protocol.js';

/** A failed host request: `code` is the protocol's numeric code, or null for transport failures. */
export class HostError extends Error {
  constructor({ code = null, name, message }) {
    super(message);
    this.code = code;
    this.name = 'HostError';
    this.errorName = name;
  }
  toJSON() {
    return { code: this.code, name: this.errorName, message: this.message };
  }
}

// Chromium's lastError texts for a native port that ended, mapped to our transport names
// (chrome/browser/extensions/api/messaging/native_message_process_host.cc).
const DISCONNECT_REASONS = [
  [/not found/i, TRANSPORT.notInstalled],
  [/forbidden/i, TRANSPORT.forbidden],
  [/exited/i, TRANSPORT.exited],
  [/failed to start/i, TRANSPORT.failedToStart],
];

function disconnectError(message) {
  const text = message || 'the native host closed the connection';
  const match = DISCONNECT_REASONS.find(([re]) => re.test(text));
  return new HostError({ name: match ? match[1] : TRANSPORT.disconnected, message: text });
}

/**
 * @param {{onDisconnect: (error: HostError) => void, timeoutMs?: number}} options
 */
export function createHostClient({ onDisconnect, timeoutMs = 5000 }) {
  let port = null;
  let nextId = 1;
  const pending = new Map();

  function settle(id, fn) {
    const entry = pending.get(id);
    if (!entry) return;
    pending.delete(id);
    clearTimeout(entry.timer);
    fn(entry);
  }

  function onMessage(reply) {
    if (!reply || typeof reply !== 'object' || !pending.has(reply.id)) {
      console.warn('gatehouse: unexpected message from host', reply);
      return;
    }
    settle(reply.id, ({ resolve, reject }) => {
      if (reply.v !== PROTOCOL_VERSION) {
        reject(new HostError({ name: TRANSPORT.badVersion, message: `host speaks protocol v${reply.v}, expected v${PROTOCOL_VERSION}` }));
      } else if (reply.ok) {
        resolve(reply.data);
      } else {
        const e = reply.error ?? {};
        reject(new HostError({ code: e.code ?? null, name: e.name ?? errorName(e.code), message: e.message ?? 'host error' }));
      }
    });
  }

  function ended(thisPort) {
    if (port !== thisPort) return;
    port = null;
    const error = disconnectError(chrome.runtime.lastError?.message);
    for (const id of [...pending.keys()]) settle(id, ({ reject }) => reject(error));
    onDisconnect(error);
  }

  function connect() {
    if (port) return port;
    let p;
    try {
      p = chrome.runtime.connectNative(HOST_NAME);
    } catch (err) {
      // connectNative throws synchronously only for a malformed name or a missing permission.
      throw new HostError({ name: TRANSPORT.failedToStart, message: String(err?.message ?? err) });
    }
    port = p;
    p.onMessage.addListener(onMessage);
    p.onDisconnect.addListener(() => ended(p));
    return p;
  }

  /** Sends one request; resolves to the reply's `data`, rejects with a HostError. */
  function request(type, params = {}, { timeout = timeoutMs } = {}) {
    return new Promise((resolve, reject) => {
      let p;
      try {
        p = connect();
      } catch (err) {
        reject(err);
        return;
      }
      const id = nextId++;
      const timer = setTimeout(
        () => settle(id, (e) => e.reject(new HostError({ name: TRANSPORT.timeout, message: `no reply to ${type} within ${timeout} ms` }))),
        timeout,
      );
      pending.set(id, { resolve, reject, timer });
      try {
        p.postMessage({ v: PROTOCOL_VERSION, id, type, ...params });
      } catch (err) {
        settle(id, (e) => e.reject(disconnectError(String(err?.message ?? err))));
      }
    });
  }

  function close() {
    if (!port) return;
    const p = port;
    port = null;
    try { p.disconnect(); } catch { /* already gone */ }
  }

  return { request, close, get connected() { return port !== null; } };
}
