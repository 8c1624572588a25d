// Local servers that stand in for the web services (Chromium reaches them through
// --host-resolver-rules). Each logs every TCP connection — with the TLS SNI or the HTTP Host it
// carried, or nothing if it never sent a byte, like a speculative preconnect — and every HTTP
// request, so a test can assert that a blocked host saw nothing at all.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { Duplex } from 'node:stream';

/** A self-signed certificate for any name (Chromium runs with --ignore-certificate-errors). */
export function makeCertificate(dir) {
  const key = path.join(dir, 'standin-key.pem');
  const cert = path.join(dir, 'standin-cert.pem');
  if (!fs.existsSync(cert)) {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
      '-days', '2', '-subj', '/CN=gatehouse-standin', '-addext', 'subjectAltName=DNS:*'], { stdio: 'ignore' });
  }
  return { key: fs.readFileSync(key), cert: fs.readFileSync(cert) };
}

/** The server_name of a TLS ClientHello, or null (RFC 8446 4.1.2, RFC 6066 3). */
export function parseSni(buf) {
  try {
    if (buf[0] !== 0x16 || buf[5] !== 0x01) return null;
    let i = 5 + 4 + 2 + 32; // record header, handshake header, version, random
    i += 1 + buf[i]; // session id
    i += 2 + buf.readUInt16BE(i); // cipher suites
    i += 1 + buf[i]; // compression methods
    const end = i + 2 + buf.readUInt16BE(i);
    i += 2;
    while (i + 4 <= end && i + 4 <= buf.length) {
      const type = buf.readUInt16BE(i);
      const len = buf.readUInt16BE(i + 2);
      if (type === 0) {
        const nameLen = buf.readUInt16BE(i + 7);
        return buf.subarray(i + 9, i + 9 + nameLen).toString('ascii');
      }
      i += 4 + len;
    }
  } catch { /* truncated hello */ }
  return null;
}

/**
 * Starts a stand-in on 127.0.0.1 (random port). `handler(req, res, body)` may answer a request;
 * otherwise a small page naming the host is served.
 */
export async function startStandIn({ name, tls, handler } = {}) {
  const connections = [];
  const requests = [];
  /** Paths served on 127.0.0.1 itself (update manifest, CRX): path → handler. Also
   * `host/path` keys (no leading slash): that path on that host, any host. */
  const routes = new Map();
  /** WebSocket upgrades: `host/path` → handler(req, socket, head, entry); others are refused. */
  const upgrades = new Map();
  let nextId = 1;

  const onRequest = (secure) => (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const entry = { atMs: Date.now(), secure, method: req.method, host: (req.headers.host ?? '').replace(/:\d+$/, ''), url: req.url, headers: req.headers, rawHeaders: req.rawHeaders, body };
      requests.push(entry);
      const route = routes.get(req.url.split('?')[0]);
      if (route && /^(127\.0\.0\.1|localhost)$/.test(entry.host)) {
        route(req, res, body, entry);
        return;
      }
      const siteRoute = routes.get(`${entry.host}${req.url.split('?')[0]}`);
      if (siteRoute) {
        siteRoute(req, res, body, entry);
        return;
      }
      if (handler && handler(req, res, body, entry) !== false) return;
      const host = entry.host || 'unknown';
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(`<!doctype html><html lang="en"><head><title>Stand-in: ${host}</title></head><body><h1 id="standin">Stand-in page for ${host}</h1></body></html>`);
    });
  };
  const httpServer = http.createServer(onRequest(false));
  const tlsServer = tls ? https.createServer(tls, onRequest(true)) : null;
  httpServer.keepAliveTimeout = 1000;
  const onUpgrade = (secure) => (req, socket, head) => {
    const entry = { atMs: Date.now(), secure, method: req.method, host: (req.headers.host ?? '').replace(/:\d+$/, ''), url: req.url, headers: req.headers, body: '', upgrade: true };
    requests.push(entry);
    const upgrade = upgrades.get(`${entry.host}${req.url.split('?')[0]}`);
    if (upgrade) upgrade(req, socket, head, entry);
    else socket.destroy();
  };
  httpServer.on('upgrade', onUpgrade(false));
  tlsServer?.on('upgrade', onUpgrade(true));

  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const conn = { id: nextId++, atMs: Date.now(), kind: 'silent', sni: null };
    connections.push(conn);
    socket.on('error', () => {});
    socket.once('data', (chunk) => {
      // Hand the connection on through a JS stream that replays the first chunk: the HTTP and
      // TLS servers would otherwise read the socket's handle directly and miss it.
      const stream = replay(socket, chunk);
      if (chunk[0] === 0x16 && tlsServer) {
        conn.kind = 'tls';
        conn.sni = parseSni(chunk);
        tlsServer.emit('connection', stream);
      } else {
        conn.kind = 'http';
        httpServer.emit('connection', stream);
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    name,
    port,
    routes,
    upgrades,
    connections,
    requests,
    /** Connections and requests that concern `host` (by SNI or Host header). */
    sawHost(host) {
      return {
        connections: connections.filter((c) => c.sni === host),
        requests: requests.filter((r) => r.host === host),
      };
    },
    reset() { connections.length = 0; requests.length = 0; },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        setTimeout(resolve, 500);
      });
    },
  };
}

/** A duplex over `socket` whose readable side starts with `first`. */
function replay(socket, first) {
  const stream = new Duplex({
    read() { socket.resume(); },
    write(chunk, encoding, callback) { socket.write(chunk, encoding, callback); },
    final(callback) { socket.end(); callback(); },
    destroy(err, callback) { socket.destroy(); callback(err); },
  });
  stream.remoteAddress = socket.remoteAddress;
  stream.remotePort = socket.remotePort;
  stream.setTimeout = (...a) => { socket.setTimeout(...a); return stream; };
  stream.setNoDelay = (...a) => { socket.setNoDelay(...a); return stream; };
  stream.setKeepAlive = (...a) => { socket.setKeepAlive(...a); return stream; };
  stream.push(first);
  socket.on('data', (c) => { if (!stream.push(c)) socket.pause(); });
  socket.on('end', () => stream.push(null));
  socket.on('close', () => stream.destroy());
  return stream;
}
