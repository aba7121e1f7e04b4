/* Core: plugins' publish/subscribe over Redis. One subscriber connection
 * per process (core/redis/sub.h) fans messages out to every plugin
 * callback registered for the channel. */
#ifndef KRC_SERVER_PUBSUB_H
#define KRC_SERVER_PUBSUB_H

#include "core/server/app.h"

/* main. Stops the subscriber thread (no callback runs afterwards) and
 * frees the registrations. */
void krc_pubsub_stop(krc_app *app);
/* main. Host-table entries: subscribe, publish. */
void krc_pubsub_host_fill(kr_host *h);

#endif
