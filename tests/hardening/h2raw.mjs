// A raw HTTP/2 client for abuse tests: it writes frames exactly as told
// (HEADERS with or without END_STREAM, RST_STREAM right behind, windows of
// zero, header blocks no well-behaved client would send), which node:http2
// and nghttp2 refuse to do. It decodes only frame headers: enough to count
// responses, see GOAWAY and see the server close the connection.
import net from 'node:net';
import tls from 'node:tls';

export const FRAME = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PUSH_PROMISE: 5, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 };
export const FLAG = { END_STREAM: 1, ACK: 1, END_HEADERS: 4 };
export const SETTING = { HEADER_TABLE_SIZE: 1, ENABLE_PUSH: 2, MAX_CONCURRENT_STREAMS: 3, INITIAL_WINDOW_SIZE: 4, MAX_FRAME_SIZE: 5 };
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** HPACK integer with an N-bit prefix (RFC 7541 5.1); first byte carries `high`. */
export function hpackInt(value, prefixBits, high = 0) {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([high | value]);
  const out = [high | max];
  value -= max;
  while (value >= 128) { out.push((value % 128) + 128); value = Math.floor(value / 128); }
  out.push(value);
  return Buffer.from(out);
}

const str = (s) => { const b = Buffer.from(s); return Buffer.concat([hpackInt(b.length, 7), b]); };

/** Literal header field without indexing, new name (RFC 7541 6.2.2). */
export const literal = (name, value) => Buffer.concat([Buffer.from([0]), str(name), str(value)]);
/** Literal header field with incremental indexing, new name (6.2.1): enters the dynamic table. */
export const literalIndexed = (name, value) => Buffer.concat([Buffer.from([0x40]), str(name), str(value)]);
/** Indexed header field (6.1): index 62 is the newest dynamic-table entry. */
export const indexed = (i) => hpackInt(i, 7, 0x80);

/** A request header block for method and path (authority 127.0.0.1). */
export function requestBlock(method, path, extra = []) {
  return Buffer.concat([literal(':method', method), literal(':scheme', 'http'), literal(':path', path),
    literal(':authority', '127.0.0.1'), ...extra.map(([n, v]) => literal(n, v))]);
}

export function frame(type, flags, streamId, payload = Buffer.alloc(0)) {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

export function settingsFrame(settings = {}) {
  const p = Buffer.alloc(6 * Object.keys(settings).length);
  Object.entries(settings).forEach(([id, v], i) => { p.writeUInt16BE(Number(id), i * 6); p.writeUInt32BE(v, i * 6 + 2); });
  return frame(FRAME.SETTINGS, 0, 0, p);
}

export const rstFrame = (id, code = 8 /* CANCEL */) => { const p = Buffer.alloc(4); p.writeUInt32BE(code); return frame(FRAME.RST_STREAM, 0, id, p); };
export const headersFrame = (id, block, endStream = true, endHeaders = true) =>
  frame(FRAME.HEADERS, (endStream ? FLAG.END_STREAM : 0) | (endHeaders ? FLAG.END_HEADERS : 0), id, block);
export const dataFrame = (id, buf, endStream = false) => frame(FRAME.DATA, endStream ? FLAG.END_STREAM : 0, id, buf);
export const windowUpdateFrame = (id, inc) => { const p = Buffer.alloc(4); p.writeUInt32BE(inc); return frame(FRAME.WINDOW_UPDATE, 0, id, p); };

/**
 * Opens a connection (h2c prior knowledge, or TLS with ALPN h2 when
 * opts.tls), sends the preface and opts.settings. Resolves a handle with
 * counters of what the server sent and a `closed` promise.
 */
export function connect(port, opts = {}) {
  return new Promise((resolve, reject) => {
    const sock = opts.tls
      ? tls.connect({ host: '127.0.0.1', port, ALPNProtocols: ['h2'], rejectUnauthorized: false })
      : net.connect({ host: '127.0.0.1', port });
    const c = {
      sock, nextId: 1, frames: {}, headersByStream: new Map(), goaway: null, closedAt: null, bytesIn: 0,
      closed: null,
      // flow control of what we send (RFC 9113 6.9): the server's windows
      sendWindow: { conn: 65535, initial: 65535, streams: new Map() }, onWindow: [],
      write(buf) { return sock.destroyed ? false : sock.write(buf); },
      /** Resolves once the socket can take more (or is gone). */
      drain() { return sock.destroyed || !sock.writableNeedDrain ? Promise.resolve() : new Promise((r) => { sock.once('drain', r); sock.once('close', r); }); },
      count(type) { return c.frames[type] || 0; },
      destroy() { sock.destroy(); },
    };
    c.closed = new Promise((r) => sock.on('close', () => { c.closedAt = Date.now(); r(); }));
    let buf = Buffer.alloc(0);
    sock.on('data', (d) => {
      c.bytesIn += d.length;
      if (opts.discardInput) return;
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        const type = buf[3], flags = buf[4], id = buf.readUInt32BE(5) & 0x7fffffff;
        const payload = buf.subarray(9, 9 + len);
        buf = buf.subarray(9 + len);
        c.frames[type] = (c.frames[type] || 0) + 1;
        if (type === FRAME.HEADERS) c.headersByStream.set(id, (c.headersByStream.get(id) || 0) + 1);
        if (type === FRAME.SETTINGS && !(flags & FLAG.ACK)) c.write(frame(FRAME.SETTINGS, FLAG.ACK, 0));
        if (type === FRAME.PING && !(flags & FLAG.ACK)) c.write(frame(FRAME.PING, FLAG.ACK, 0, payload));
        if (type === FRAME.SETTINGS && !(flags & FLAG.ACK)) {
          for (let i = 0; i + 6 <= payload.length; i += 6) {
            if (payload.readUInt16BE(i) !== SETTING.INITIAL_WINDOW_SIZE) continue;
            const v = payload.readUInt32BE(i + 2), d = v - c.sendWindow.initial;
            c.sendWindow.initial = v;
            for (const [id, w] of c.sendWindow.streams) c.sendWindow.streams.set(id, w + d);
          }
        }
        if (type === FRAME.WINDOW_UPDATE) {
          const inc = payload.readUInt32BE(0) & 0x7fffffff;
          if (id === 0) c.sendWindow.conn += inc;
          else c.sendWindow.streams.set(id, (c.sendWindow.streams.get(id) ?? c.sendWindow.initial) + inc);
          c.onWindow.splice(0).forEach((f) => f());
        }
        if (type === FRAME.GOAWAY) c.goaway = { lastStreamId: payload.readUInt32BE(0) & 0x7fffffff, code: payload.readUInt32BE(4) };
      }
    });
    sock.on('error', () => {}); // a reset by the server is what some tests wait for
    const ready = opts.tls ? 'secureConnect' : 'connect';
    sock.once(ready, () => {
      sock.write(Buffer.concat([PREFACE, settingsFrame(opts.settings || {}), ...(opts.connWindow ? [windowUpdateFrame(0, opts.connWindow)] : [])]));
      resolve(c);
    });
    sock.once('error', reject);
  });
}

/**
 * Sends buf as DATA on stream id in frames of at most 16 KiB, waiting for
 * the server's flow-control windows (which needs the socket to be read).
 */
export async function sendBody(c, id, buf, endStream) {
  const win = c.sendWindow;
  let off = 0;
  do {
    const w = Math.min(win.conn, win.streams.get(id) ?? win.initial, 16384, buf.length - off);
    if (w <= 0 && buf.length > off) {
      if (c.closedAt) throw new Error('connection closed while sending a body');
      await new Promise((r) => { c.onWindow.push(r); c.sock.once('close', r); });
      continue;
    }
    win.conn -= w;
    win.streams.set(id, (win.streams.get(id) ?? win.initial) - w);
    off += w;
    c.write(dataFrame(id, buf.subarray(off - w, off), endStream && off === buf.length));
    await c.drain();
  } while (off < buf.length);
}

/** Next client stream id of c. */
export function nextStream(c) { const id = c.nextId; c.nextId += 2; return id; }
