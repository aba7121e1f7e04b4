/* A private database server for the outage tests (outage.c): started in a
 * fresh folder, never the fixture's (other tests use that one), then
 * stopped, restarted and frozen with SIGSTOP under a live krc_db. One
 * implementation per backend: outage_pg.c (tests/servers/servers.sh) and
 * outage_mongo.c (tests/servers/ferretdb.sh). All functions are for the
 * test's main thread. */
#ifndef KIRANA_TEST_OUTAGE_SERVER_H
#define KIRANA_TEST_OUTAGE_SERVER_H

#include <stddef.h>

/* Name printed in the test group ("PostgreSQL", "MongoDB"). */
extern const char *const kt_server_name;
/* How many timeouts a call may take against a frozen server: 1, or 2 when
 * the driver retries a failed read once on a new connection (mongoc). */
extern const int kt_server_frozen_timeouts;

/* Starts the server under dir (made by the caller); its URI, with a
 * database, into uri. 0, or -1 with a reason on stderr. */
int kt_server_start(const char *dir, char *uri, size_t urilen);
/* Crash-like stop (no clean shutdown of clients), keeping data and port. */
int kt_server_stop(void);
/* Starts it again after kt_server_stop, same port and data. */
int kt_server_restart(void);
/* SIGSTOP or SIGCONT every process and thread of the server; returns once
 * a SIGSTOP has taken effect on all of them. */
void kt_server_signal(int sig);
/* Removes the server and its folder (also after a failure; safe to
 * repeat). Thaws it first when frozen. */
void kt_server_remove(void);
/* Holds a row lock on `id` in coll from another session until
 * kt_server_unlock: 0, -1 on failure, 1 where the backend has no row
 * lock a client can hold. */
int kt_server_lock(const char *coll, const char *id);
void kt_server_unlock(void);

#endif
