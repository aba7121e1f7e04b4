/* Core, PostgreSQL backend: one libpq connection with deadlines.
 *
 * Everything here is non-blocking libpq driven by poll() against an
 * absolute deadline (CLOCK_MONOTONIC, ms), so a down, unreachable or
 * stopped server costs at most the caller's timeout: past the deadline the
 * connection is marked broken and the call fails with KR_EUNAVAILABLE.
 * Statements are prepared once per connection and cached by their text. */
#ifndef KRC_DB_PG_CONN_H
#define KRC_DB_PG_CONN_H

#include <libpq-fe.h>
#include <stdint.h>

typedef struct krc_pg_conn krc_pg_conn;

/* any thread. Now on the clock deadlines use, in ms. */
int64_t krc_pg_now_ms(void);

/* worker. Connects to uri, then sets statement_timeout to 90% of timeout_ms.
 * *out caller-owned (krc_pg_conn_close). 0, or KR_EUNAVAILABLE (server down,
 * refused, too slow) / KR_ENOMEM with the message set. */
int krc_pg_conn_open(const char *uri, int timeout_ms, int64_t deadline, krc_pg_conn **out);
/* any thread. NULL is fine. */
void krc_pg_conn_close(krc_pg_conn *c);
/* worker. 0 when an idle connection may be used. Non-blocking: a server
 * that closed the connection, or sent anything while idle (a shutdown
 * notice), makes it unusable. */
int krc_pg_conn_idle_ok(krc_pg_conn *c);
/* any thread. 1 once the connection must not be used again. */
int krc_pg_conn_broken(const krc_pg_conn *c);

/* worker. Runs one statement with n text parameters (prepared and cached
 * by its text). *res (caller-owned, PQclear) is the last result, a tuples
 * or command result. On failure: a kr_err with the message set ("postgresql:
 * ..."), *res NULL, and the SQLSTATE and constraint name kept (below).
 *   KR_EUNAVAILABLE  connection lost or timed out (the connection is then
 *                    broken), server shutting down or overloaded,
 *                    statement_timeout, serialization failure, deadlock
 *   KR_EDUPLICATE    unique violation
 *   KR_EINVAL        data errors (bad regex, bad JSON for jsonb, a refused
 *                    update from the helper functions)
 *   KR_ETOOBIG       a limit of the server (a value too big for an index)
 *   KR_EINTERNAL     anything else */
int krc_pg_conn_exec(krc_pg_conn *c, const char *sql, int n, const char *const *params, int64_t deadline,
                     PGresult **res);
/* worker. Runs a script of statements without parameters (DDL), not
 * prepared. Errors as krc_pg_conn_exec. */
int krc_pg_conn_script(krc_pg_conn *c, const char *sql, int64_t deadline);
/* any thread. SQLSTATE of the last failure ("" when it was not a server
 * error). Borrowed, until the next call on c. */
const char *krc_pg_conn_sqlstate(const krc_pg_conn *c);
/* any thread. Constraint named by the last failure ("" when none). */
const char *krc_pg_conn_constraint(const krc_pg_conn *c);

#endif
