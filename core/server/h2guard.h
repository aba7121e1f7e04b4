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
 * State: one guard per h2o context, in h2o's context storage; per-connection
 * counters hang off the socket's on_close hook (unused by h2o for accepted
 * sockets), so they are freed exactly when h2o closes the connection.
 * Everything but krc_h2guard_attach runs on the context's loop thread. */
#ifndef KRC_SERVER_H2GUARD_H
#define KRC_SERVER_H2GUARD_H

#include <h2o.h>
#include <stdbool.h>

/* main, before the context's loop runs; once per context. 0, or -1 when out
 * of memory. */
int krc_h2guard_attach(h2o_context_t *ctx, int max_resets_per_10s, int answer_timeout_ms);
/* loop. req's stream ended (h2o is disposing it) before kirana answered. */
void krc_h2guard_unanswered(h2o_req_t *req);
/* loop. Kirana is sending req's whole answer now; it must be gone within
 * the answer timeout. Not for answers that stream (SSE). */
void krc_h2guard_watch(h2o_req_t *req);
/* loop. Whether req came in on a connection the guard has closed. */
bool krc_h2guard_closed(h2o_req_t *req);

#endif
