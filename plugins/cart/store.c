/* cart.so: carts in Redis (worker threads).
 *
 * Every change runs as one Lua script: read the line, check the limits,
 * write, renew the expiry and read the whole cart back, all inside Redis's
 * single-threaded execution. Two requests changing one cart at once are
 * therefore serialised by Redis itself, and neither can lose the other's
 * update or slip past a limit the other one reached. The script is sent by
 * EVALSHA; a Redis that forgot it (restart, SCRIPT FLUSH) gets it again by
 * EVAL. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cart.h"

/* KEYS[1] the cart. ARGV: product id, qty, mode ("add" | "set"), max qty
 * per line, stock, max lines, expiry in ms. Returns {verdict, resulting
 * qty, HGETALL after the change (empty when refused)}; verdicts are
 * cart_verdict. */
static const char change_script[] =
    "local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')\n"
    "local want = tonumber(ARGV[2])\n"
    "if ARGV[3] == 'add' then want = cur + want end\n"
    "if want > tonumber(ARGV[4]) then return {1, want, {}} end\n"
    "if want > tonumber(ARGV[5]) then return {2, want, {}} end\n"
    "if cur == 0 and want > 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[6]) then\n"
    "  return {3, want, {}}\n"
    "end\n"
    "if want == 0 then\n"
    "  redis.call('HDEL', KEYS[1], ARGV[1])\n"
    "else\n"
    "  redis.call('HSET', KEYS[1], ARGV[1], want)\n"
    "end\n"
    "redis.call('PEXPIRE', KEYS[1], ARGV[7])\n"
    "return {0, want, redis.call('HGETALL', KEYS[1])}\n";

static char *cart_key(const char *user_id)
{
    size_t n = strlen(CART_KEY_PREFIX) + strlen(user_id) + 1;
    char *k = malloc(n);
    if (k != NULL)
        snprintf(k, n, "%s%s", CART_KEY_PREFIX, user_id);
    return k;
}

void cart_lines_free(cart_lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].product_id);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* Strict decimal >= 1 (what the script writes); -1 otherwise. */
static long long parse_qty(const char *s)
{
    if (s[0] < '1' || s[0] > '9')
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    return errno == 0 && *end == '\0' ? v : -1;
}

static int by_product(const void *a, const void *b)
{
    return strcmp(((const cart_line *)a)->product_id, ((const cart_line *)b)->product_id);
}

int cart_lines_from_reply(const kr_redis_reply *r, cart_lines *out)
{
    out->v = NULL;
    out->n = 0;
    if (r->type != KR_REDIS_ARRAY || r->elements % 2 != 0)
        return KR_EINTERNAL;
    if (r->elements == 0)
        return KR_OK;
    out->v = calloc(r->elements / 2, sizeof(*out->v));
    if (out->v == NULL)
        return KR_ENOMEM;
    int rc = KR_OK;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const kr_redis_reply *f = r->element[i], *v = r->element[i + 1];
        if (f->type != KR_REDIS_STRING || v->type != KR_REDIS_STRING) {
            rc = KR_EINTERNAL;
            break;
        }
        long long qty = parse_qty(v->str);
        if (qty < 1)
            continue;
        char *id = strdup(f->str);
        if (id == NULL) {
            rc = KR_ENOMEM;
            break;
        }
        out->v[out->n++] = (cart_line){id, qty};
    }
    if (rc < 0) {
        cart_lines_free(out);
        return rc;
    }
    qsort(out->v, out->n, sizeof(*out->v), by_product);
    return KR_OK;
}

int cart_outcome_from_reply(const kr_redis_reply *r, cart_outcome *out)
{
    memset(out, 0, sizeof(*out));
    if (r->type != KR_REDIS_ARRAY || r->elements != 3 || r->element[0]->type != KR_REDIS_INTEGER ||
        r->element[1]->type != KR_REDIS_INTEGER || r->element[0]->integer < CART_OK ||
        r->element[0]->integer > CART_FULL)
        return KR_EINTERNAL;
    out->verdict = (cart_verdict)r->element[0]->integer;
    out->qty = r->element[1]->integer;
    return out->verdict == CART_OK ? cart_lines_from_reply(r->element[2], &out->lines) : KR_OK;
}

/* A Redis error reply is a bug here (wrong type at the key, script
 * error): log it, answer 500. */
static int error_reply(cart_state *st, const char *what, kr_redis_reply *r)
{
    kr_log(st->ctx, KR_LOG_ERROR, "cart: %s: %s", what, r->type == KR_REDIS_ERROR ? r->str : "unexpected reply");
    kr_redis_reply_free(r);
    return KR_EINTERNAL;
}

/* The script's SHA1 into sha, loading the script first if needed. */
static int script_sha(cart_state *st, char sha[41])
{
    pthread_mutex_lock(&st->sha_lock);
    memcpy(sha, st->sha, 41);
    pthread_mutex_unlock(&st->sha_lock);
    if (sha[0] != '\0')
        return KR_OK;
    kr_redis_reply *r;
    int rc = kr_redis_command(st->redis, &r, "SCRIPT", "LOAD", change_script, NULL);
    if (rc < 0)
        return rc;
    if (r->type != KR_REDIS_STRING || r->len != 40)
        return error_reply(st, "SCRIPT LOAD", r);
    memcpy(sha, r->str, 41);
    kr_redis_reply_free(r);
    /* Racing loaders store the same digest. */
    pthread_mutex_lock(&st->sha_lock);
    memcpy(st->sha, sha, 41);
    pthread_mutex_unlock(&st->sha_lock);
    return KR_OK;
}

int cart_store_change(cart_state *st, const char *user_id, const char *product_id, cart_mode mode, long long qty,
                      long long stock, cart_outcome *out)
{
    memset(out, 0, sizeof(*out));
    char sha[41];
    int rc = script_sha(st, sha);
    if (rc < 0)
        return rc;
    char *key = cart_key(user_id);
    if (key == NULL)
        return KR_ENOMEM;
    char nums[4][24];
    snprintf(nums[0], sizeof(nums[0]), "%lld", qty);
    snprintf(nums[1], sizeof(nums[1]), "%lld", st->max_qty);
    snprintf(nums[2], sizeof(nums[2]), "%lld", stock);
    snprintf(nums[3], sizeof(nums[3]), "%lld", st->max_lines);
    char ttl[24];
    snprintf(ttl, sizeof(ttl), "%lld", st->ttl_ms);
    const char *argv[] = {"EVALSHA", sha,     "1",     key, product_id, nums[0], mode == CART_ADD ? "add" : "set",
                          nums[1],   nums[2], nums[3], ttl};
    const int argc = sizeof(argv) / sizeof(argv[0]);
    kr_redis_reply *r;
    rc = kr_redis_command_argv(st->redis, argc, argv, NULL, &r);
    if (rc == KR_OK && r->type == KR_REDIS_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        kr_redis_reply_free(r);
        argv[0] = "EVAL";
        argv[1] = change_script;
        rc = kr_redis_command_argv(st->redis, argc, argv, NULL, &r);
    }
    free(key);
    if (rc < 0)
        return rc;
    if (r->type == KR_REDIS_ERROR)
        return error_reply(st, "cart change script", r);
    rc = cart_outcome_from_reply(r, out);
    if (rc == KR_EINTERNAL)
        return error_reply(st, "cart change script", r);
    kr_redis_reply_free(r);
    return rc;
}

int cart_store_load(cart_state *st, const char *user_id, cart_lines *out)
{
    out->v = NULL;
    out->n = 0;
    char *key = cart_key(user_id);
    if (key == NULL)
        return KR_ENOMEM;
    char ttl[24];
    snprintf(ttl, sizeof(ttl), "%lld", st->ttl_ms);
    const char *get[] = {"HGETALL", key};
    const char *touch[] = {"PEXPIRE", key, ttl};
    /* One round trip: reading a cart is activity, so it renews the expiry. */
    const kr_redis_cmd cmds[] = {{2, get, NULL}, {3, touch, NULL}};
    kr_redis_reply **r;
    int rc = kr_redis_pipeline(st->redis, 2, cmds, &r);
    free(key);
    if (rc < 0)
        return rc;
    rc = cart_lines_from_reply(r[0], out);
    if (rc == KR_EINTERNAL)
        kr_log(st->ctx, KR_LOG_ERROR, "cart: HGETALL: %s",
               r[0]->type == KR_REDIS_ERROR ? r[0]->str : "unexpected reply");
    kr_redis_replies_free(r, 2);
    return rc;
}

int cart_store_clear(cart_state *st, const char *user_id)
{
    char *key = cart_key(user_id);
    if (key == NULL)
        return KR_ENOMEM;
    kr_redis_reply *r;
    int rc = kr_redis_command(st->redis, &r, "DEL", key, NULL);
    free(key);
    if (rc < 0)
        return rc;
    if (r->type == KR_REDIS_ERROR)
        return error_reply(st, "DEL", r);
    kr_redis_reply_free(r);
    return KR_OK;
}
