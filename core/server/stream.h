/* Core: server-sent event streams (kr_stream).
 *
 * A stream outlives the handler that opened it. Events may be queued from
 * any thread; they are appended to a buffer under the stream's mutex and
 * one message is posted to the connection's loop thread, which writes the
 * buffer with h2o_send and writes again when h2o asks for more (proceed),
 * so a slow reader never blocks a sender — past a bound the stream is
 * closed instead.
 *
 * References: the plugin holds one until kr_stream_close; the loop holds
 * one until h2o is done with the request and no posted message is pending.
 * The stream is freed when both are gone. */
#ifndef KRC_SERVER_STREAM_H
#define KRC_SERVER_STREAM_H

#include <h2o.h>

#include "kirana/host.h"

struct krc_loop;

/* loop. The worker finished the handler that opened r's stream: start the
 * response on h2o's request (or close the stream if the client left). */
void krc_stream_start(kr_req *r, h2o_req_t *req);
/* loop. h2o disposed the request the stream writes to. */
void krc_stream_req_gone(kr_stream *s);
/* loop. Heartbeats due on this loop's streams; at shutdown (ending != 0)
 * ends every stream so clients reconnect elsewhere. */
void krc_stream_tick(struct krc_loop *L, int ending);
/* loop. Receiver of the streams' flush messages (one per loop). */
void krc_stream_on_flush(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages);
/* main. Host-table entries: sse_open, stream_send, stream_closed,
 * stream_close. */
void krc_stream_host_fill(kr_host *h);

#endif
