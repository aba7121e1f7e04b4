#include "contract.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/db/db.h"
#include "core/util/err.h"

static char admin_uri[512];
static char created[32];

int kt_env_file_get(const char *file, const char *key, char *out, size_t outlen)
{
    FILE *f = fopen(file, "r");
    if (f == NULL)
        return -1;
    char line[1024];
    size_t klen = strlen(key);
    int rc = -1;
    while (rc != 0 && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, key, klen) != 0 || line[klen] != '=')
            continue;
        line[strcspn(line, "\r\n")] = '\0';
        snprintf(out, outlen, "%s", line + klen + 1);
        rc = 0;
    }
    fclose(f);
    return rc;
}

void kt_uri_with_db(const char *uri, const char *dbname, char *out, size_t outlen)
{
    const char *host = strstr(uri, "://");
    host = host != NULL ? host + 3 : uri;
    const char *path = strchr(host, '/');
    const char *query = strchr(host, '?');
    size_t prefix = path != NULL ? (size_t)(path - uri) : query != NULL ? (size_t)(query - uri) : strlen(uri);
    snprintf(out, outlen, "%.*s/%s%s", (int)prefix, uri, dbname, query != NULL ? query : "");
}

static int admin_exec(const char *sql)
{
    PGconn *c = PQconnectdb(admin_uri);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "contract: cannot connect to %s: %s", admin_uri, PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    PGresult *r = PQexec(c, sql);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "contract: %s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return rc;
}

int kt_database_uri(char *out, size_t outlen)
{
    const char *given = getenv("KIRANA_TEST_DB_URI");
    if (given != NULL && given[0] != '\0') {
        snprintf(out, outlen, "%s", given);
        return 0;
    }
    const char *env = getenv("KIRANA_TEST_SERVERS_ENV");
    if (env == NULL || kt_env_file_get(env, "KIRANA_TEST_PG_URI", admin_uri, sizeof(admin_uri)) != 0) {
        fprintf(stderr, "contract: set KIRANA_TEST_DB_URI, or KIRANA_TEST_SERVERS_ENV to a servers.sh env file\n");
        return -1;
    }
    unsigned char r[8];
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
        return -1;
    snprintf(created, sizeof(created), "kt_%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5], r[6],
             r[7]);
    char sql[128];
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", created);
    if (admin_exec(sql) != 0) {
        created[0] = '\0';
        return -1;
    }
    kt_uri_with_db(admin_uri, created, out, outlen);
    return 0;
}

void kt_drop_database(void)
{
    if (created[0] == '\0')
        return;
    char sql[128];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", created);
    admin_exec(sql);
    created[0] = '\0';
}

const kr_host *kt_host(void)
{
    static kr_host h = {.size = sizeof h, .abi_major = KR_ABI_MAJOR, .abi_minor = KR_ABI_MINOR};
    if (h.errmsg == NULL) {
        h.errmsg = krc_err_msg;
        krc_db_host_fill(&h);
    }
    return &h;
}
