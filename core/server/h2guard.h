/* Core: connection guards that libh2o 2.2.5 lacks.
 *
 * Rapid reset (CVE-2023-44487). An HTTP/2 client may open a stream and
 * reset it at once: h2o has parsed the request and kirana has handed it to
 * the pool, yet the stream no longer counts against the client's
 * concurrency limit, so one connection can make the server start requests
 * without bound. 2.2.5 predates the fix. The guard counts, per HTTP/2
 * connection, requests whose stream ended before kirana answered them, over
 * a sliding 10 s window, and closes the connection above
 * server.h2_max_resets_per_10s.
 *
 * Stalled readers. 2.2.5 disarms its HTTP/2 idle timeout while an answer is
 * being sent, so a client that leaves its flow-control window at zero (or
 * stops reading) holds the connection and the answers forever. The guard
 * gives every answer server.request_timeout_ms to leave completely (h2o
 * disposes the request when it has), and closes the connection otherwise.
 *
 * 2.2.5 has no call to close a connection from a handler. The guard shuts
 * the socket down both ways: h2o then reads EOF or fails its next write and
 * tears the connection down through its own path, as if the peer had left.
 * Requests that arrive on a closed connection (already in h2o's read buffer)
 * are left unanswered instead of reaching the pool; the teardown disposes
 * them.
 *
 * Malformed requests. RFC 9113 makes an empty :path a stream error; h2o
 * 2.2.5 passes it on as a request. With no call to reset one stream, the
 * guard closes the connection (any stream error may be treated as a
 * connection error, RFC 9113 5.4.1).
 *
 * Header lists. HPACK lets 16 KiB of HEADERS name one 4 KiB dynamic-table
 * entry 16,000 times; h2o 2.2.5 shares the bytes, but a request kirana
 * copies for the pool would cost 64 MiB. 2.2.5 sets no header-list limit
 * for HTTP/2 (HTTP/1 stops at 100 headers), so the pipeline checks one
 * before it copies anything: at most KRC_MAX_HEADERS headers of at most
 * KRC_MAX_HEADER_BYTES decoded bytes (names and values), else 431.
 *
 * State: one guard per h2o context, in h2o's context storage; per-connection
 * counters hang off the socket's on_close hook (unused by h2o for accepted
 * sockets), so they are freed exactly when h2o closes the connection.
 * Each function says its thread. */
#ifndef KRC_SERVER_H2GUARD_H
#define KRC_SERVER_H2GUARD_H

#include <h2o.h>
#include <stdbool.h>

#define KRC_MAX_HEADERS 100
#define KRC_MAX_HEADER_BYTES 16384

/* main, before the context's loop runs; once per context. 0, or -1 when out
 * of memory. */
int krc_h2guard_attach(h2o_context_t *ctx, int max_resets_per_10s, int answer_timeout_ms);
/* loop. req's stream ended (h2o is disposing it) before kirana answered. */
void krc_h2guard_unanswered(h2o_req_t *req);
/* loop. Kirana is sending req's whole answer now; it must be gone within
 * the answer timeout. Not for answers that stream (SSE). */
void krc_h2guard_watch(h2o_req_t *req);
/* loop. Whether req must be dropped unanswered: it came in on a connection
 * the guard has closed, or it is malformed (the connection is closed now). */
bool krc_h2guard_refused(h2o_req_t *req);
/* any. Whether req's headers are within the limits above; if not, why in
 * detail (for a 431 answer). */
bool krc_h2guard_headers_fit(const h2o_req_t *req, char *detail, size_t len);

#endif
