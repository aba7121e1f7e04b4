/* The outage tests' server on PostgreSQL: a private cluster from
 * tests/servers/servers.sh (KT_SERVERS_SH), driven with pg_ctl. */
#include <dirent.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "contract.h"
#include "outage_server.h"
#include "outage_util.h"

const char *const kt_server_name = "PostgreSQL";
const int kt_server_frozen_timeouts = 1;

static char dir[64];
static char pg_bin[256], pg_data[256], pg_port[16], pg_uri[512];
static int frozen;
static PGconn *locker;

/* pg_ctl as the cluster's owner (PostgreSQL refuses root). */
static int pg_ctl(const char *args)
{
    return kt_sh("%s %s/pg_ctl -D %s %s >/dev/null 2>&1", getuid() == 0 ? "runuser -u postgres --" : "", pg_bin,
                 pg_data, args);
}

int kt_server_start(const char *where, char *uri, size_t urilen)
{
    snprintf(dir, sizeof(dir), "%s", where);
    char env[128];
    snprintf(env, sizeof(env), "%s/env", dir);
    if (kt_sh("%s start %s >/dev/null", KT_SERVERS_SH, dir) != 0 ||
        kt_env_file_get(env, "KIRANA_TEST_PG_BIN", pg_bin, sizeof(pg_bin)) != 0 ||
        kt_env_file_get(env, "KIRANA_TEST_PG_DATA", pg_data, sizeof(pg_data)) != 0 ||
        kt_env_file_get(env, "KIRANA_TEST_PG_PORT", pg_port, sizeof(pg_port)) != 0 ||
        kt_env_file_get(env, "KIRANA_TEST_PG_URI", pg_uri, sizeof(pg_uri)) != 0) {
        fprintf(stderr, "outage: could not start a private PostgreSQL in %s\n", dir);
        return -1;
    }
    snprintf(uri, urilen, "%s", pg_uri);
    return 0;
}

int kt_server_restart(void)
{
    char args[512];
    snprintf(args, sizeof(args),
             "-l %s/pg/server.log -w -t 60 -o \"-p %s -k %s/pg -c listen_addresses=127.0.0.1\" start", dir, pg_port,
             dir);
    return pg_ctl(args);
}

/* The servers run with synchronous_commit off: checkpoint first, or the
 * crash-like stop would lose the rows the tests read back. */
int kt_server_stop(void)
{
    PGconn *c = PQconnectdb(pg_uri);
    PGresult *r = PQexec(c, "CHECKPOINT");
    PQclear(r);
    PQfinish(c);
    return pg_ctl("-m immediate -w stop");
}

/* The postmaster and every process it started, so that open connections
 * hang too. */
void kt_server_signal(int sig)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/postmaster.pid", pg_data);
    FILE *f = fopen(path, "r");
    long pm = 0;
    if (f == NULL || fscanf(f, "%ld", &pm) != 1 || pm <= 0) {
        if (f != NULL)
            fclose(f);
        return;
    }
    fclose(f);
    if (sig == SIGSTOP)
        kill((pid_t)pm, sig);
    DIR *proc = opendir("/proc");
    struct dirent *e;
    while (proc != NULL && (e = readdir(proc)) != NULL) {
        char stat[300], buf[512];
        snprintf(stat, sizeof(stat), "/proc/%s/stat", e->d_name);
        FILE *s = fopen(stat, "r");
        if (s == NULL)
            continue;
        size_t n = fread(buf, 1, sizeof(buf) - 1, s);
        fclose(s);
        buf[n] = '\0';
        char *close = strrchr(buf, ')');
        long ppid = 0;
        if (close != NULL && sscanf(close + 2, "%*c %ld", &ppid) == 1 && ppid == pm)
            kill((pid_t)atol(e->d_name), sig);
    }
    if (proc != NULL)
        closedir(proc);
    if (sig == SIGCONT)
        kill((pid_t)pm, sig);
    frozen = sig == SIGSTOP;
}

void kt_server_remove(void)
{
    kt_server_unlock();
    if (frozen)
        kt_server_signal(SIGCONT);
    /* rm again: redis may still be writing in its folder when the script
     * removes it */
    if (dir[0] != '\0')
        kt_sh("%s stop %s >/dev/null 2>&1; sleep 0.2; rm -rf %s", KT_SERVERS_SH, dir, dir);
    dir[0] = '\0';
}

int kt_server_lock(const char *coll, const char *id)
{
    locker = PQconnectdb(pg_uri);
    if (PQstatus(locker) != CONNECTION_OK)
        return -1;
    char *c = PQescapeIdentifier(locker, coll, strlen(coll));
    char *v = PQescapeLiteral(locker, id, strlen(id));
    char sql[512];
    snprintf(sql, sizeof(sql), "BEGIN; SELECT 1 FROM %s WHERE id = %s FOR UPDATE", c, v);
    PQfreemem(c);
    PQfreemem(v);
    PGresult *r = PQexec(locker, sql);
    int rc = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 ? 0 : -1;
    PQclear(r);
    return rc;
}

void kt_server_unlock(void)
{
    if (locker == NULL)
        return;
    PGresult *r = PQexec(locker, "ROLLBACK");
    PQclear(r);
    PQfinish(locker);
    locker = NULL;
}
