#include "core/queue/script.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bullmq_scripts.h"
#include "core/util/err.h"
#include "core/util/thread.h"

static const struct {
    const char *name;
    int numkeys;
} wanted[KRC_S_COUNT] = {
    [KRC_S_ADD_STANDARD] = {"addStandardJob", 9},
    [KRC_S_ADD_DELAYED] = {"addDelayedJob", 6},
    [KRC_S_ADD_PRIORITIZED] = {"addPrioritizedJob", 9},
    [KRC_S_MOVE_TO_ACTIVE] = {"moveToActive", 11},
    [KRC_S_EXTEND_LOCK] = {"extendLock", 2},
    [KRC_S_MOVE_TO_FINISHED] = {"moveToFinished", 14},
    [KRC_S_MOVE_TO_DELAYED] = {"moveToDelayed", 11},
    [KRC_S_RETRY_JOB] = {"retryJob", 11},
    [KRC_S_MOVE_STALLED] = {"moveStalledJobsToWait", 9},
    [KRC_S_GET_COUNTS] = {"getCounts", 1},
};

static const krc_bullmq_script *resolved[KRC_S_COUNT];
static char resolve_err[256];
static pthread_once_t resolve_once = PTHREAD_ONCE_INIT;

static void resolve(void)
{
    for (int i = 0; i < KRC_S_COUNT; i++) {
        const krc_bullmq_script *found = NULL;
        for (size_t j = 0; j < KRC_BULLMQ_NSCRIPTS; j++)
            if (strcmp(krc_bullmq_scripts[j].name, wanted[i].name) == 0)
                found = &krc_bullmq_scripts[j];
        if (found == NULL) {
            snprintf(resolve_err, sizeof(resolve_err), "bullmq %s has no script %s", KRC_BULLMQ_VERSION,
                     wanted[i].name);
            return;
        }
        if (found->numkeys != wanted[i].numkeys) {
            snprintf(resolve_err, sizeof(resolve_err), "bullmq %s script %s takes %d keys, kirana passes %d",
                     KRC_BULLMQ_VERSION, wanted[i].name, found->numkeys, wanted[i].numkeys);
            return;
        }
        resolved[i] = found;
    }
}

int krc_scripts_check(char *err, size_t errlen)
{
    pthread_once(&resolve_once, resolve);
    if (resolve_err[0] != '\0') {
        snprintf(err, errlen, "%s", resolve_err);
        return -1;
    }
    return 0;
}

void krc_qargs_init(krc_qargs *a)
{
    memset(a, 0, sizeof(*a));
}

void krc_qargs_buf(krc_qargs *a, const char *s, size_t len)
{
    if (a->n == KRC_QARGS_MAX) {
        a->overflow = 1;
        return;
    }
    a->v[a->n] = s;
    a->len[a->n] = len;
    a->n++;
}

void krc_qargs_str(krc_qargs *a, const char *s)
{
    krc_qargs_buf(a, s, strlen(s));
}

void krc_qargs_int(krc_qargs *a, long long v)
{
    if (a->n == KRC_QARGS_MAX) {
        a->overflow = 1;
        return;
    }
    int len = snprintf(a->num[a->n], sizeof(a->num[a->n]), "%lld", v);
    krc_qargs_buf(a, a->num[a->n], (size_t)len);
}

void krc_qargs_own(krc_qargs *a, char *buf, size_t len)
{
    if (a->n == KRC_QARGS_MAX) {
        a->overflow = 1;
        free(buf);
        return;
    }
    a->owned[a->nowned++] = buf;
    krc_qargs_buf(a, buf, len);
}

void krc_qargs_free(krc_qargs *a)
{
    for (int i = 0; i < a->nowned; i++)
        free(a->owned[i]);
    a->nowned = 0;
    a->n = 0;
}

static redisReply *evalsha(redisContext *c, const krc_bullmq_script *s, const krc_qargs *a)
{
    const char *argv[KRC_QARGS_MAX + 3];
    size_t argvlen[KRC_QARGS_MAX + 3];
    char nk[16];
    argv[0] = "EVALSHA";
    argvlen[0] = 7;
    argv[1] = s->sha1;
    argvlen[1] = strlen(s->sha1);
    argvlen[2] = (size_t)snprintf(nk, sizeof(nk), "%d", s->numkeys);
    argv[2] = nk;
    for (int i = 0; i < a->n; i++) {
        argv[i + 3] = a->v[i];
        argvlen[i + 3] = a->len[i];
    }
    return redisCommandArgv(c, a->n + 3, argv, argvlen);
}

static int io_error(redisContext *c, const char *what)
{
    return krc_err_set(KR_EUNAVAILABLE, "queue redis %s: %s", what, c->errstr[0] ? c->errstr : "no reply");
}

/* The script cache is per server and is emptied by a restart or SCRIPT
 * FLUSH, so NOSCRIPT is an ordinary answer: load and try once more. */
static int load(redisContext *c, const krc_bullmq_script *s)
{
    const char *argv[3] = {"SCRIPT", "LOAD", s->lua};
    size_t argvlen[3] = {6, 4, s->len};
    redisReply *r = redisCommandArgv(c, 3, argv, argvlen);
    if (r == NULL)
        return io_error(c, "SCRIPT LOAD");
    int rc = 0;
    if (r->type != REDIS_REPLY_STRING)
        rc = krc_err_set(KR_EINTERNAL, "queue SCRIPT LOAD %s: %s", s->name,
                         r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    else if (strcmp(r->str, s->sha1) != 0)
        rc = krc_err_set(KR_EINTERNAL, "queue SCRIPT LOAD %s answered sha1 %s, expected %s", s->name, r->str, s->sha1);
    freeReplyObject(r);
    return rc;
}

int krc_script_call(redisContext *c, krc_script_id id, const krc_qargs *a, redisReply **out)
{
    KRC_ASSERT_MAY_BLOCK();
    *out = NULL;
    char err[256];
    if (krc_scripts_check(err, sizeof(err)) < 0)
        return krc_err_set(KR_EINTERNAL, "queue: %s", err);
    const krc_bullmq_script *s = resolved[id];
    if (a->overflow || a->n < s->numkeys)
        return krc_err_set(KR_EINTERNAL, "queue script %s: bad argument list", s->name);
    redisReply *r = evalsha(c, s, a);
    if (r != NULL && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        int rc = load(c, s);
        if (rc < 0)
            return rc;
        r = evalsha(c, s, a);
    }
    if (r == NULL)
        return io_error(c, s->name);
    if (r->type == REDIS_REPLY_ERROR) {
        int rc = krc_err_set(KR_EINTERNAL, "queue script %s: %s", s->name, r->str);
        freeReplyObject(r);
        return rc;
    }
    *out = r;
    return 0;
}
