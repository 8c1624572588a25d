// A minimal server side of RFC 6455 for the stand-ins: the handshake, unmasked text frames out,
// and the close (or the socket ending) noticed. Enough to see whether a page's WebSocket to a
// blocked service keeps receiving messages.

import crypto from 'node:crypto';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** A text frame from the server (unmasked, RFC 6455 5.2). */
function textFrame(text) {
  const payload = Buffer.from(text, 'utf8');
  const len = payload.length;
  const header = len < 126 ? Buffer.from([0x81, len])
    : len < 65536 ? Buffer.from([0x81, 126, len >> 8, len & 0xff])
      : null;
  if (!header) throw new Error('frame too large for this stand-in');
  return Buffer.concat([header, payload]);
}

/**
 * Accepts the upgrade and sends a numbered message every `everyMs`.
 * @returns {{sent: number, closedMs: number|null, openedMs: number, stop: () => void}}
 */
export function tickingWebSocket(req, socket, { everyMs = 200 } = {}) {
  const key = req.headers['sec-websocket-key'];
  const accept = crypto.createHash('sha1').update(key + GUID).digest('base64');
  socket.write(['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${accept}`, '', ''].join('\r\n'));
  const state = { sent: 0, openedMs: Date.now(), closedMs: null, stop };
  const timer = setInterval(() => {
    if (state.closedMs) return;
    state.sent += 1;
    socket.write(textFrame(`tick ${state.sent}`));
  }, everyMs);
  function stop() {
    clearInterval(timer);
    state.closedMs ??= Date.now();
    socket.destroy();
  }
  const closed = () => {
    clearInterval(timer);
    state.closedMs ??= Date.now();
  };
  // Any frame from the client here is its close frame (the page never sends data).
  socket.on('data', (chunk) => { if ((chunk[0] & 0x0f) === 0x8) { closed(); socket.end(); } });
  socket.on('close', closed);
  socket.on('end', closed);
  socket.on('error', closed);
  return state;
}
