#include "core/db/pg_conn.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util/err.h"

/* Prepared statements per connection: open addressing, filled to 3/4 at
 * most; past that, statements run unprepared. */
#define STMT_SLOTS 256

typedef struct stmt {
    uint64_t hash;
    char *sql; /* NULL: free slot */
    int id;    /* name: "kr<id>" */
} stmt;

struct krc_pg_conn {
    PGconn *pg;
    int broken;
    int nstmts;
    char sqlstate[6];
    char constraint[64];
    stmt stmts[STMT_SLOTS];
};

int64_t krc_pg_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The first line of a libpq message, into buf. */
static const char *first_line(const char *msg, char *buf, size_t len)
{
    snprintf(buf, len, "%s", msg != NULL && msg[0] != '\0' ? msg : "connection lost");
    buf[strcspn(buf, "\r\n")] = '\0';
    return buf;
}

static int lost(krc_pg_conn *c)
{
    char line[300];
    c->broken = 1;
    return krc_err_set(KR_EUNAVAILABLE, "postgresql: %s", first_line(PQerrorMessage(c->pg), line, sizeof(line)));
}

static int wait_io(krc_pg_conn *c, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - krc_pg_now_ms();
        if (left <= 0) {
            c->broken = 1;
            return krc_err_set(KR_EUNAVAILABLE, "postgresql: no answer within the timeout");
        }
        struct pollfd p = {.fd = PQsocket(c->pg), .events = events};
        int r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR) {
            c->broken = 1;
            return krc_err_set(KR_EUNAVAILABLE, "postgresql: poll: %s", strerror(errno));
        }
    }
}

static void no_notices(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

int krc_pg_conn_open(const char *uri, int timeout_ms, int64_t deadline, krc_pg_conn **out)
{
    *out = NULL;
    krc_pg_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return krc_err_set(KR_ENOMEM, "out of memory");
    /* Our own deadline bounds the connect; libpq's connect_timeout (whole
     * seconds, at least 2) and TCP options are a second line for what poll
     * cannot see. Keywords before dbname are defaults the URI overrides. */
    char tcp_timeout[16], connect_timeout[16];
    snprintf(tcp_timeout, sizeof(tcp_timeout), "%d", timeout_ms);
    snprintf(connect_timeout, sizeof(connect_timeout), "%d", timeout_ms < 2000 ? 2 : (timeout_ms + 999) / 1000);
    const char *const kw[] = {
        "fallback_application_name", "connect_timeout",  "tcp_user_timeout", "keepalives", "keepalives_idle",
        "keepalives_interval",       "keepalives_count", "dbname",           NULL};
    const char *const val[] = {"kirana", connect_timeout, tcp_timeout, "1", "30", "10", "3", uri, NULL};
    c->pg = PQconnectStartParams(kw, val, 1);
    if (c->pg == NULL) {
        free(c);
        return krc_err_set(KR_ENOMEM, "out of memory");
    }
    int rc = 0;
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    if (PQstatus(c->pg) == CONNECTION_BAD)
        st = PGRES_POLLING_FAILED;
    while (rc == 0 && st != PGRES_POLLING_OK) {
        if (st == PGRES_POLLING_FAILED) {
            rc = lost(c);
            break;
        }
        rc = wait_io(c, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
        if (rc == 0)
            st = PQconnectPoll(c->pg);
    }
    if (rc == 0) {
        PQsetNoticeProcessor(c->pg, no_notices, NULL);
        if (PQsetnonblocking(c->pg, 1) != 0)
            rc = lost(c);
    }
    if (rc == 0 && PQserverVersion(c->pg) < 120000)
        rc = krc_err_set(KR_EUNAVAILABLE, "postgresql: server version %d is too old (12 or newer needed)",
                         PQserverVersion(c->pg));
    if (rc == 0) {
        /* A little under the call's bound, so that a slow statement (a lock
         * wait) is cancelled by the server and the connection survives,
         * rather than dropped by our deadline. */
        char set[64];
        snprintf(set, sizeof(set), "SET statement_timeout = %d", timeout_ms - timeout_ms / 10);
        rc = krc_pg_conn_script(c, set, deadline);
    }
    if (rc != 0) {
        krc_pg_conn_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void krc_pg_conn_close(krc_pg_conn *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < STMT_SLOTS; i++)
        free(c->stmts[i].sql);
    PQfinish(c->pg);
    free(c);
}

int krc_pg_conn_idle_ok(krc_pg_conn *c)
{
    if (c->broken || PQstatus(c->pg) != CONNECTION_OK)
        return -1;
    struct pollfd p = {.fd = PQsocket(c->pg), .events = POLLIN};
    if (poll(&p, 1, 0) == 0)
        return 0;
    c->broken = 1;
    return -1;
}

int krc_pg_conn_broken(const krc_pg_conn *c)
{
    return c->broken;
}

const char *krc_pg_conn_sqlstate(const krc_pg_conn *c)
{
    return c->sqlstate;
}

const char *krc_pg_conn_constraint(const krc_pg_conn *c)
{
    return c->constraint;
}

static int map_sqlstate(const char *st)
{
    static const char *const unavailable[] = {"08", "53", "57", "58", "40001", "40P01", "55P03", "26000"};
    if (st == NULL || st[0] == '\0')
        return KR_EINTERNAL;
    for (size_t i = 0; i < sizeof(unavailable) / sizeof(unavailable[0]); i++)
        if (strncmp(st, unavailable[i], strlen(unavailable[i])) == 0)
            return KR_EUNAVAILABLE;
    if (strcmp(st, "23505") == 0)
        return KR_EDUPLICATE;
    if (strncmp(st, "22", 2) == 0 || strcmp(st, "KR001") == 0)
        return KR_EINVAL;
    if (strncmp(st, "54", 2) == 0) /* program limit: an index row too big */
        return KR_ETOOBIG;
    return KR_EINTERNAL;
}

/* Turns a failed result (consumed) into a kr_err. */
static int fail_result(krc_pg_conn *c, PGresult *r)
{
    const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    const char *cons = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
    snprintf(c->sqlstate, sizeof(c->sqlstate), "%s", st != NULL ? st : "");
    snprintf(c->constraint, sizeof(c->constraint), "%s", cons != NULL ? cons : "");
    int code = map_sqlstate(st);
    /* 26000: our cache no longer matches the server's statements */
    if (PQstatus(c->pg) == CONNECTION_BAD || (st != NULL && strcmp(st, "26000") == 0)) {
        c->broken = 1;
        code = KR_EUNAVAILABLE;
    }
    char line[300];
    if (code == KR_EDUPLICATE)
        krc_err_set(code, "duplicate key for unique index \"%s\"", c->constraint);
    else
        krc_err_set(code, "postgresql: %s",
                    first_line(msg != NULL ? msg : PQresultErrorMessage(r), line, sizeof(line)));
    PQclear(r);
    return code;
}

/* Sends what libpq has buffered. */
static int flush(krc_pg_conn *c, int64_t deadline)
{
    for (;;) {
        int r = PQflush(c->pg);
        if (r == 0)
            return 0;
        if (r < 0)
            return lost(c);
        int rc = wait_io(c, POLLOUT | POLLIN, deadline);
        if (rc != 0)
            return rc;
        if (PQconsumeInput(c->pg) == 0)
            return lost(c);
    }
}

/* Reads results until libpq has none left; the first failure wins, else
 * the last result. */
static int collect(krc_pg_conn *c, int64_t deadline, PGresult **out)
{
    *out = NULL;
    int rc = flush(c, deadline);
    PGresult *keep = NULL;
    while (rc == 0) {
        if (PQisBusy(c->pg)) {
            rc = wait_io(c, POLLIN, deadline);
            if (rc == 0 && PQconsumeInput(c->pg) == 0)
                rc = lost(c);
            continue;
        }
        PGresult *r = PQgetResult(c->pg);
        if (r == NULL)
            break;
        if (keep != NULL && PQresultStatus(keep) == PGRES_FATAL_ERROR) {
            PQclear(r);
        } else {
            PQclear(keep);
            keep = r;
        }
    }
    /* Statements here never leave a transaction open; a script that
     * failed inside its BEGIN would leave this connection unusable. */
    if (rc == 0 && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        c->broken = 1;
    if (rc != 0) {
        PQclear(keep);
        return rc;
    }
    if (keep == NULL) {
        if (PQstatus(c->pg) == CONNECTION_BAD)
            return lost(c);
        return krc_err_set(KR_EINTERNAL, "postgresql: no result");
    }
    ExecStatusType s = PQresultStatus(keep);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        return fail_result(c, keep);
    *out = keep;
    return 0;
}

static uint64_t hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* The slot holding sql, or the free slot where it would go. */
static stmt *slot_for(krc_pg_conn *c, const char *sql, uint64_t h)
{
    for (size_t i = 0; i < STMT_SLOTS; i++) {
        stmt *s = &c->stmts[(h + i) % STMT_SLOTS];
        if (s->sql == NULL || (s->hash == h && strcmp(s->sql, sql) == 0))
            return s;
    }
    return NULL;
}

/* The prepared statement for sql, preparing it when there is room; NULL
 * (and rc 0) when it is to run unprepared. */
static int prepared(krc_pg_conn *c, const char *sql, int n, int64_t deadline, stmt **out)
{
    *out = NULL;
    uint64_t h = hash(sql);
    stmt *s = slot_for(c, sql, h);
    if (s != NULL && s->sql != NULL) {
        *out = s;
        return 0;
    }
    if (s == NULL || c->nstmts >= STMT_SLOTS * 3 / 4)
        return 0;
    char name[16];
    snprintf(name, sizeof(name), "kr%d", c->nstmts);
    if (!PQsendPrepare(c->pg, name, sql, n, NULL))
        return lost(c);
    PGresult *r;
    int rc = collect(c, deadline, &r);
    if (rc != 0)
        return rc;
    PQclear(r);
    if ((s->sql = strdup(sql)) == NULL)
        return krc_err_set(KR_ENOMEM, "out of memory");
    s->hash = h;
    s->id = c->nstmts++;
    *out = s;
    return 0;
}

int krc_pg_conn_exec(krc_pg_conn *c, const char *sql, int n, const char *const *params, int64_t deadline,
                     PGresult **res)
{
    *res = NULL;
    c->sqlstate[0] = c->constraint[0] = '\0';
    if (c->broken)
        return krc_err_set(KR_EUNAVAILABLE, "postgresql: connection lost");
    stmt *s;
    int rc = prepared(c, sql, n, deadline, &s);
    if (rc != 0)
        return rc;
    int sent;
    if (s != NULL) {
        char name[16];
        snprintf(name, sizeof(name), "kr%d", s->id);
        sent = PQsendQueryPrepared(c->pg, name, n, params, NULL, NULL, 0);
    } else {
        sent = PQsendQueryParams(c->pg, sql, n, NULL, params, NULL, NULL, 0);
    }
    if (!sent)
        return lost(c);
    return collect(c, deadline, res);
}

int krc_pg_conn_script(krc_pg_conn *c, const char *sql, int64_t deadline)
{
    c->sqlstate[0] = c->constraint[0] = '\0';
    if (c->broken)
        return krc_err_set(KR_EUNAVAILABLE, "postgresql: connection lost");
    if (!PQsendQuery(c->pg, sql))
        return lost(c);
    PGresult *r;
    int rc = collect(c, deadline, &r);
    PQclear(r);
    return rc;
}
