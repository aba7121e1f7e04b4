/* One-time codes in Redis: one hash per phone, {h: keyed hash of the code,
 * n: tries so far}, expiring with the code. Only the hash is stored, so a
 * Redis dump does not hand out logins.
 *
 * A try is counted before the code is compared, in the same MULTI as the
 * read, so concurrent guesses cannot see a stale count: at most
 * max_attempts comparisons ever happen per code, and the try that reaches
 * the limit without the right code deletes it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth.h"

void auth_otp_generate(const auth_otp_cfg *cfg, char code[AUTH_CODE_MAX + 1])
{
    uint32_t bound = 1;
    for (int i = 0; i < cfg->length; i++)
        bound *= 10;
    /* randombytes_uniform has no modulo bias. */
    snprintf(code, AUTH_CODE_MAX + 1, "%0*u", cfg->length, (unsigned)randombytes_uniform(bound));
}

static int exec_of(kr_redis_reply **rep, size_t n, size_t want, const kr_redis_reply **ex)
{
    *ex = rep[n - 1];
    return *ex != NULL && (*ex)->type == KR_REDIS_ARRAY && (*ex)->elements == want ? 0 : -1;
}

int auth_otp_store(const auth_state *st, const char *phone, const char *code)
{
    char *key = auth_key(st, "otp:", phone);
    if (key == NULL)
        return KR_ENOMEM;
    char hash[AUTH_HASH_HEX + 1], ttl[24];
    auth_keyed_hash_hex(st->otp_key, phone, code, hash);
    snprintf(ttl, sizeof(ttl), "%ld", st->otp.ttl * 1000);
    /* DEL first: a new code also resets the tries of the one it replaces. */
    const char *multi[] = {"MULTI"}, *del[] = {"DEL", key}, *hset[] = {"HSET", key, "h", hash, "n", "0"},
               *exp[] = {"PEXPIRE", key, ttl}, *exec[] = {"EXEC"};
    kr_redis_cmd cmds[] = {{1, multi, NULL}, {2, del, NULL}, {6, hset, NULL}, {3, exp, NULL}, {1, exec, NULL}};
    kr_redis_reply **rep = NULL;
    int rc = kr_redis_pipeline(st->redis, 5, cmds, &rep);
    const kr_redis_reply *ex;
    if (rc == KR_OK) {
        rc = exec_of(rep, 5, 3, &ex) == 0 && ex->element[1]->type == KR_REDIS_INTEGER ? KR_OK : KR_EUNAVAILABLE;
        kr_redis_replies_free(rep, 5);
    } else {
        rc = KR_EUNAVAILABLE;
    }
    free(key);
    return rc;
}

/* One command whose reply is an integer (DEL, PEXPIRE); -1 on failure. */
static long long command_int(kr_redis *r, const char *a0, const char *a1, const char *a2)
{
    kr_redis_reply *rep = NULL;
    long long v = -1;
    if (kr_redis_command(r, &rep, a0, a1, a2, (char *)NULL) == KR_OK && rep != NULL && rep->type == KR_REDIS_INTEGER)
        v = rep->integer;
    kr_redis_reply_free(rep);
    return v;
}

int auth_otp_check(const auth_state *st, const char *phone, const char *code)
{
    char hash[AUTH_HASH_HEX + 1];
    auth_keyed_hash_hex(st->otp_key, phone, code, hash);
    char *key = auth_key(st, "otp:", phone);
    if (key == NULL)
        return KR_ENOMEM;
    const char *multi[] = {"MULTI"}, *incr[] = {"HINCRBY", key, "n", "1"}, *get[] = {"HGET", key, "h"},
               *pttl[] = {"PTTL", key}, *exec[] = {"EXEC"};
    kr_redis_cmd cmds[] = {{1, multi, NULL}, {4, incr, NULL}, {3, get, NULL}, {2, pttl, NULL}, {1, exec, NULL}};
    kr_redis_reply **rep = NULL;
    const kr_redis_reply *ex;
    if (kr_redis_pipeline(st->redis, 5, cmds, &rep) != KR_OK || exec_of(rep, 5, 3, &ex) != 0 ||
        ex->element[0]->type != KR_REDIS_INTEGER) {
        kr_redis_replies_free(rep, 5);
        free(key);
        return KR_EUNAVAILABLE;
    }
    long long tries = ex->element[0]->integer;
    const kr_redis_reply *stored = ex->element[1];
    long long ttl = ex->element[2]->type == KR_REDIS_INTEGER ? ex->element[2]->integer : 0;
    int rc = KR_EAUTH;
    if (stored->type != KR_REDIS_STRING) {
        /* No live code: HINCRBY just made a hash without a TTL. Give it one
         * rather than deleting it, which could hit a code stored since. */
        if (ttl == -1) {
            char ms[24];
            snprintf(ms, sizeof(ms), "%ld", st->otp.ttl * 1000);
            command_int(st->redis, "PEXPIRE", key, ms);
        }
    } else if (tries > st->otp.max_attempts) {
        command_int(st->redis, "DEL", key, NULL);
    } else if (auth_hash_equal(stored->str, hash)) {
        /* Single use: of two racing right answers only the one whose DEL
         * removed the key wins. */
        if (st->otp.reusable)
            rc = KR_OK;
        else {
            long long deleted = command_int(st->redis, "DEL", key, NULL);
            rc = deleted == 1 ? KR_OK : deleted == 0 ? KR_EAUTH : KR_EUNAVAILABLE;
        }
    } else if (tries >= st->otp.max_attempts) {
        command_int(st->redis, "DEL", key, NULL);
    }
    kr_redis_replies_free(rep, 5);
    free(key);
    return rc;
}
