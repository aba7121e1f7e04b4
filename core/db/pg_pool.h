/* Core, PostgreSQL backend: the connection pool.
 *
 * At most `size` connections, made when calls need them (so the process
 * starts while the server is down) and checked out for the length of one
 * call, so a connection is never shared by two threads. Waiting for a free
 * connection is bounded by the caller's deadline. Connections that broke,
 * or that the server closed while they sat idle (a restart), are dropped
 * and replaced by the next checkout: the pool recovers without a restart. */
#ifndef KRC_DB_PG_POOL_H
#define KRC_DB_PG_POOL_H

#include <stdint.h>

#include "core/db/pg_conn.h"

typedef struct krc_pg_pool krc_pg_pool;

/* main. Caller-owned (krc_pg_pool_free); NULL on ENOMEM. uri is copied;
 * timeout_ms is passed to krc_pg_conn_open for each connection. */
krc_pg_pool *krc_pg_pool_new(const char *uri, int size, int timeout_ms);
/* main, at exit, with every connection returned. */
void krc_pg_pool_free(krc_pg_pool *p);
/* worker. A connection for this thread until krc_pg_pool_put (borrowed).
 * 0, or KR_EUNAVAILABLE when none is free by deadline or connecting
 * fails, message set. */
int krc_pg_pool_get(krc_pg_pool *p, int64_t deadline, krc_pg_conn **out);
/* worker. Gives c back; a broken connection is closed instead. */
void krc_pg_pool_put(krc_pg_pool *p, krc_pg_conn *c);

#endif
