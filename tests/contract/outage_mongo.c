/* The outage tests' server on the MongoDB backend: a private mongod or
 * FerretDB from tests/servers/ferretdb.sh (KT_FERRETDB_SH), killed with
 * SIGKILL and resumed on the same port and data. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "contract.h"
#include "outage_server.h"
#include "outage_util.h"

const char *const kt_server_name = "MongoDB";
const int kt_server_frozen_timeouts = 2;

static char dir[64];
static long server_pid;
static int frozen;

static long read_pid(void)
{
    char path[128], pid[32];
    snprintf(path, sizeof(path), "%s/server.pid", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    long p = fgets(pid, sizeof(pid), f) != NULL ? atol(pid) : 0;
    fclose(f);
    return p;
}

int kt_server_start(const char *where, char *uri, size_t urilen)
{
    snprintf(dir, sizeof(dir), "%s", where);
    /* always a private server, even when KIRANA_TEST_MONGODB_URI names
     * one: this test kills it */
    unsetenv("KIRANA_TEST_MONGODB_URI");
    char env[128], base[256];
    snprintf(env, sizeof(env), "%s/env", dir);
    if (kt_sh("%s start %s >/dev/null", KT_FERRETDB_SH, dir) != 0 ||
        kt_env_file_get(env, "KIRANA_TEST_MONGO_URI", base, sizeof(base)) != 0) {
        fprintf(stderr, "outage: could not start a private MongoDB wire server in %s\n", dir);
        return -1;
    }
    server_pid = read_pid();
    kt_uri_with_db(base, "outage", uri, urilen);
    return 0;
}

int kt_server_stop(void)
{
    return kt_sh("%s kill %s", KT_FERRETDB_SH, dir);
}

int kt_server_restart(void)
{
    int rc = kt_sh("%s resume %s", KT_FERRETDB_SH, dir);
    server_pid = read_pid();
    return rc;
}

/* Whether every thread of the server is stopped ('T' in its stat). */
static int all_threads_stopped(void)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/task", server_pid);
    DIR *tasks = opendir(path);
    if (tasks == NULL)
        return 0;
    int stopped = 1;
    struct dirent *e;
    while (stopped && (e = readdir(tasks)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char stat[128], buf[512];
        snprintf(stat, sizeof(stat), "%s/%.20s/stat", path, e->d_name);
        FILE *f = fopen(stat, "r");
        size_t n = f != NULL ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
        if (f != NULL)
            fclose(f);
        buf[n] = '\0';
        const char *close = strrchr(buf, ')');
        stopped = close != NULL && close[1] == ' ' && close[2] == 'T';
    }
    closedir(tasks);
    return stopped;
}

void kt_server_signal(int sig)
{
    if (server_pid > 0)
        kill((pid_t)server_pid, sig);
    frozen = sig == SIGSTOP;
    /* kill() returns before every thread of a multi-threaded server has
     * stopped: one still running can answer the next call */
    for (int i = 0; frozen && i < 200 && !all_threads_stopped(); i++)
        usleep(10000);
}

void kt_server_remove(void)
{
    if (frozen)
        kt_server_signal(SIGCONT);
    if (dir[0] != '\0')
        kt_sh("%s stop %s >/dev/null 2>&1", KT_FERRETDB_SH, dir);
    dir[0] = '\0';
}

int kt_server_lock(const char *coll, const char *id)
{
    (void)coll;
    (void)id;
    return 1;
}

void kt_server_unlock(void)
{
}
