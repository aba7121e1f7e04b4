/* Send limits for OTP codes, in Redis so every http process shares them.
 *
 * Each limit is a sliding window: a sorted set of send times, so "at most
 * 5 per hour" holds for every hour-long span (a fixed window would allow 10
 * across a boundary) and the exact Retry-After is known. The resend
 * cool-down is one key set with NX. Everything a send takes is taken in one
 * MULTI/EXEC round trip; when any part refuses, the parts taken are given
 * back, so refused requests do not eat into the limits. No Lua: the plugin
 * runs against any host's Redis, the fake host's included. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

#define ARGS_MAX 6

/* A pipeline being built: commands with their argv and one number each. */
typedef struct batch {
    kr_redis_cmd *cmds;
    const char *(*argv)[ARGS_MAX];
    char (*num)[24];
    size_t n;
} batch;

static int batch_init(batch *b, size_t cap)
{
    b->n = 0;
    b->cmds = calloc(cap, sizeof(*b->cmds));
    b->argv = calloc(cap, sizeof(*b->argv));
    b->num = calloc(cap, sizeof(*b->num));
    return b->cmds != NULL && b->argv != NULL && b->num != NULL ? 0 : -1;
}

static void batch_free(batch *b)
{
    free(b->cmds);
    free(b->argv);
    free(b->num);
}

/* The number buffer of the command added next. */
static const char *batch_num(batch *b, long long v)
{
    snprintf(b->num[b->n], sizeof(b->num[b->n]), "%lld", v);
    return b->num[b->n];
}

static void batch_add(batch *b, int argc, ...)
{
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++)
        b->argv[b->n][i] = va_arg(ap, const char *);
    va_end(ap);
    b->cmds[b->n] = (kr_redis_cmd){.argc = argc, .argv = b->argv[b->n]};
    b->n++;
}

static long ceil_s(long long ms)
{
    return ms <= 0 ? 1 : (long)((ms + 999) / 1000);
}

static long long int_of(const kr_redis_reply *r)
{
    return r != NULL && r->type == KR_REDIS_INTEGER ? r->integer : 0;
}

/* Gives back the window entries and (when taken) the cool-down; with
 * counts also asks each refused window when it frees a slot (into *retry). */
static int give_back(kr_redis *r, const char *cool_key, int cool_taken, const char *member, const auth_window *w,
                     size_t n, const long long *counts, int64_t now_ms, long *retry)
{
    batch b;
    if (batch_init(&b, 2 * n + 1) != 0) {
        batch_free(&b);
        return KR_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        /* Entries are ordered by time and ours is the newest, so the
         * (count - limit)th oldest is the one whose expiry frees a slot. */
        if (counts != NULL && counts[i] > w[i].limit) {
            const char *at = batch_num(&b, counts[i] - w[i].limit - 1);
            batch_add(&b, 5, "ZRANGE", w[i].key, at, at, "WITHSCORES");
        }
        batch_add(&b, 3, "ZREM", w[i].key, member);
    }
    if (cool_taken)
        batch_add(&b, 2, "DEL", cool_key);
    kr_redis_reply **rep = NULL;
    int rc = kr_redis_pipeline(r, b.n, b.cmds, &rep);
    if (rc == KR_OK) {
        size_t j = 0;
        for (size_t i = 0; i < n; i++, j++) {
            if (counts == NULL || counts[i] <= w[i].limit)
                continue;
            const kr_redis_reply *z = rep[j++];
            if (z->type == KR_REDIS_ARRAY && z->elements == 2 && z->element[1]->type == KR_REDIS_STRING) {
                long s = ceil_s((long long)strtod(z->element[1]->str, NULL) + w[i].window_s * 1000 - now_ms);
                if (s > *retry)
                    *retry = s;
            }
        }
        kr_redis_replies_free(rep, b.n);
    }
    batch_free(&b);
    return rc == KR_OK ? KR_OK : KR_EUNAVAILABLE;
}

int auth_rl_take(kr_redis *r, const char *cool_key, const char *member, long resend_after, const auth_window *w,
                 size_t n, int64_t now_ms, long *retry_after)
{
    *retry_after = 0;
    batch b;
    if (batch_init(&b, 4 + 4 * n) != 0) {
        batch_free(&b);
        return KR_ENOMEM;
    }
    batch_add(&b, 1, "MULTI");
    batch_add(&b, 6, "SET", cool_key, member, "NX", "PX", batch_num(&b, (long long)resend_after * 1000));
    batch_add(&b, 2, "PTTL", cool_key);
    for (size_t i = 0; i < n; i++) {
        long long window_ms = (long long)w[i].window_s * 1000;
        batch_add(&b, 4, "ZREMRANGEBYSCORE", w[i].key, "-inf", batch_num(&b, now_ms - window_ms));
        batch_add(&b, 4, "ZADD", w[i].key, batch_num(&b, now_ms), member);
        batch_add(&b, 2, "ZCARD", w[i].key);
        batch_add(&b, 3, "PEXPIRE", w[i].key, batch_num(&b, window_ms));
    }
    batch_add(&b, 1, "EXEC");
    kr_redis_reply **rep = NULL;
    size_t ncmds = b.n;
    int rc = kr_redis_pipeline(r, ncmds, b.cmds, &rep);
    batch_free(&b);
    if (rc != KR_OK)
        return KR_EUNAVAILABLE;
    const kr_redis_reply *ex = rep[ncmds - 1];
    long long *counts = calloc(n + 1, sizeof(*counts));
    if (ex == NULL || ex->type != KR_REDIS_ARRAY || ex->elements != 2 + 4 * n || counts == NULL) {
        kr_redis_replies_free(rep, ncmds);
        free(counts);
        return counts == NULL ? KR_ENOMEM : KR_EUNAVAILABLE;
    }
    const kr_redis_reply *set = ex->element[0];
    int cool_taken = set->type == KR_REDIS_STRING && strcmp(set->str, "OK") == 0;
    for (size_t i = 0; i < ex->elements; i++) {
        if (ex->element[i]->type == KR_REDIS_ERROR) {
            /* e.g. a key of another type, or OOM: not a grant */
            kr_redis_replies_free(rep, ncmds);
            free(counts);
            long unused = 0;
            give_back(r, cool_key, cool_taken, member, w, n, NULL, now_ms, &unused);
            return KR_EUNAVAILABLE;
        }
    }
    long retry = cool_taken ? 0 : ceil_s(int_of(ex->element[1]));
    int refused = !cool_taken;
    for (size_t i = 0; i < n; i++) {
        counts[i] = int_of(ex->element[2 + 4 * i + 2]);
        if (counts[i] > w[i].limit)
            refused = 1;
    }
    kr_redis_replies_free(rep, ncmds);
    if (refused) {
        rc = give_back(r, cool_key, cool_taken, member, w, n, counts, now_ms, &retry);
        *retry_after = retry > 0 ? retry : 1;
    }
    free(counts);
    return refused && rc == KR_OK ? KR_ELIMIT : rc;
}

void auth_rl_release(kr_redis *r, const char *cool_key, const char *member, const auth_window *w, size_t n)
{
    long unused = 0;
    give_back(r, cool_key, 1, member, w, n, NULL, 0, &unused);
}
