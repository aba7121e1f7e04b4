/* Core: the kr_db document store handed to plugins.
 *
 * One krc_db per process, opened from `db.uri`; the URI scheme picks the
 * backend (core/db/backend.h). The krc_db itself is the kr_db handle that
 * plugins get, and its collections are the kr_coll handles. The operations
 * reach plugins only through the host table (krc_db_host_fill). */
#ifndef KRC_DB_DB_H
#define KRC_DB_DB_H

#include <stddef.h>

#include "kirana/host.h"

typedef struct krc_db krc_db;

typedef struct krc_db_opts {
    int pool_size;  /* connections at most; <= 0: 10 */
    int timeout_ms; /* bound of every call (pool wait, connect, round trips); <= 0: 5000 */
} krc_db_opts;

/* main. Opens the store at uri (opts may be NULL for defaults) and makes its
 * handles point at host (borrowed; must outlive the krc_db). Never blocks on
 * the server: connections are made when calls need them, so the process
 * starts while the database is down. Caller-owned (krc_db_close); NULL with
 * a one-line reason in err. */
krc_db *krc_db_open(const char *uri, const krc_db_opts *opts, const kr_host *host, char *err, size_t errlen);
/* main, at exit, after every call has returned. Frees db and its
 * collections. NULL is fine. */
void krc_db_close(krc_db *db);
/* worker. One cheap round trip: 0, or KR_EUNAVAILABLE with a short reason
 * in msg (for /readyz). */
int krc_db_ready(krc_db *db, char *msg, size_t msglen);
/* any thread. The kr_db handle of db for plugins (borrowed, lives as long
 * as db). */
kr_db *krc_db_handle(krc_db *db);
/* init. Sets the db_* entries of the host table. */
void krc_db_host_fill(kr_host *h);

#endif
