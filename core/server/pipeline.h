/* Core: the request pipeline — route, CORS, limits, hand to the worker
 * pool, authenticate, run the handler, post the answer back to the loop. */
#ifndef KRC_SERVER_PIPELINE_H
#define KRC_SERVER_PIPELINE_H

#include <h2o.h>

#include "core/server/server.h"

/* loop. The h2o handler for every request. */
int krc_pipeline_on_req(krc_loop *loop, h2o_req_t *req);
/* loop. Receiver of finished requests (registered per loop). */
void krc_pipeline_on_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages);

#endif
