/* Fake host: an in-memory Redis behind kr_redis, with the commands plugins
 * use for carts, OTPs and rate limits. Keys expire on the fake clock. A
 * call holds the Redis mutex throughout, so a pipeline (and MULTI/EXEC in
 * it) is atomic, as on one real connection. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

typedef enum rtype { R_STRING, R_HASH, R_SET, R_ZSET, R_LIST } rtype;

/* One key. Strings use `s`; hashes keep field, value pairs in items;
 * sets and lists keep members in items; sorted sets keep members in items
 * and scores alongside, ordered by (score, member). */
typedef struct rkey {
    krf_str key;
    rtype type;
    int64_t expire_at; /* fake-clock ms, 0 for none */
    krf_str s;
    krf_str *items;
    double *scores;
    size_t n, cap, scap;
} rkey;

typedef struct rpub {
    char *channel;
    krf_str msg;
} rpub;

struct kr_redis {
    kr_handle h;
    kr_fakehost *fh;
    pthread_mutex_t mu;
    rkey **keys;
    size_t nkeys, capkeys;
    rpub *pubs;
    size_t npubs, cappubs;
    int fail_err, fail_times;
};

typedef kr_redis_reply reply;
typedef reply *(*cmd_fn)(kr_redis *r, int argc, krf_str *argv);

/* --- replies --- */

static reply *mk(kr_redis_type t)
{
    reply *rp = krf_xcalloc(1, sizeof(*rp));
    rp->type = t;
    return rp;
}

static reply *r_nil(void)
{
    return mk(KR_REDIS_NIL);
}

static reply *r_int(long long v)
{
    reply *rp = mk(KR_REDIS_INTEGER);
    rp->integer = v;
    return rp;
}

static reply *r_str(const char *p, size_t n)
{
    reply *rp = mk(KR_REDIS_STRING);
    rp->str = krf_xstrndup(p, n);
    rp->len = n;
    return rp;
}

static reply *r_ok(void)
{
    return r_str("OK", 2);
}

__attribute__((format(printf, 1, 2))) static reply *r_err(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    reply *rp = r_str(buf, strlen(buf));
    rp->type = KR_REDIS_ERROR;
    return rp;
}

static reply *r_arr(size_t n)
{
    reply *rp = mk(KR_REDIS_ARRAY);
    rp->elements = n;
    rp->element = krf_xcalloc(n, sizeof(*rp->element));
    return rp;
}

static reply *r_double(double d)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%.17g", d);
    return r_str(buf, strlen(buf));
}

static reply *wrongtype(void)
{
    return r_err("WRONGTYPE Operation against a key holding the wrong kind of value");
}

static reply *not_int(void)
{
    return r_err("ERR value is not an integer or out of range");
}

/* --- keyspace --- */

static int eq(const krf_str *a, const krf_str *b)
{
    return a->n == b->n && memcmp(a->p, b->p, a->n) == 0;
}

static krf_str dup(const krf_str *s)
{
    return (krf_str){krf_xstrndup(s->p, s->n), s->n};
}

static void free_key(rkey *k)
{
    free(k->key.p);
    free(k->s.p);
    for (size_t i = 0; i < k->n; i++)
        free(k->items[i].p);
    free(k->items);
    free(k->scores);
    free(k);
}

static void del_at(kr_redis *r, size_t i)
{
    free_key(r->keys[i]);
    r->keys[i] = r->keys[--r->nkeys];
}

/* The live key, or NULL; an expired key is removed on the way (Redis's
 * lazy expiry). */
static rkey *lookup(kr_redis *r, const krf_str *key, size_t *at)
{
    int64_t now = krf_now_ms(r->fh);
    for (size_t i = 0; i < r->nkeys; i++) {
        if (!eq(&r->keys[i]->key, key))
            continue;
        if (r->keys[i]->expire_at != 0 && r->keys[i]->expire_at <= now) {
            del_at(r, i);
            return NULL;
        }
        if (at != NULL)
            *at = i;
        return r->keys[i];
    }
    return NULL;
}

/* The key if it holds type t (NULL when absent); *wrong when another. */
static rkey *typed(kr_redis *r, const krf_str *key, rtype t, int *wrong)
{
    rkey *k = lookup(r, key, NULL);
    *wrong = k != NULL && k->type != t;
    return *wrong ? NULL : k;
}

static rkey *create(kr_redis *r, const krf_str *key, rtype t)
{
    rkey *k = krf_xcalloc(1, sizeof(*k));
    k->key = dup(key);
    k->type = t;
    k->s = (krf_str){krf_xstrdup(""), 0};
    krf_grow(&r->keys, &r->capkeys, r->nkeys, sizeof(*r->keys));
    r->keys[r->nkeys++] = k;
    return k;
}

/* The key of type t, created empty when absent; NULL on a wrong type. */
static rkey *ensure(kr_redis *r, const krf_str *key, rtype t)
{
    int wrong;
    rkey *k = typed(r, key, t, &wrong);
    if (wrong)
        return NULL;
    return k != NULL ? k : create(r, key, t);
}

/* Redis deletes a collection key once it is empty. */
static void drop_if_empty(kr_redis *r, rkey *k)
{
    if (k->n != 0)
        return;
    for (size_t i = 0; i < r->nkeys; i++)
        if (r->keys[i] == k)
            del_at(r, i);
}

static void push_item(rkey *k, const krf_str *v)
{
    krf_grow(&k->items, &k->cap, k->n, sizeof(*k->items));
    k->items[k->n++] = dup(v);
}

static void remove_items(rkey *k, size_t at, size_t count)
{
    for (size_t i = at; i < at + count; i++)
        free(k->items[i].p);
    memmove(&k->items[at], &k->items[at + count], (k->n - at - count) * sizeof(*k->items));
    if (k->scores != NULL)
        memmove(&k->scores[at], &k->scores[at + count], (k->n - at - count) * sizeof(*k->scores));
    k->n -= count;
}

static int parse_ll(const krf_str *s, long long *out)
{
    if (s->n == 0 || s->n > 20 || isspace((unsigned char)s->p[0]))
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s->p, &end, 10);
    if (errno != 0 || end != s->p + s->n)
        return 0;
    *out = v;
    return 1;
}

static int parse_double(const krf_str *s, double *out)
{
    if (s->n == 0 || isspace((unsigned char)s->p[0]))
        return 0;
    char *end;
    errno = 0;
    double v = strtod(s->p, &end);
    if (end != s->p + s->n || isnan(v))
        return 0;
    *out = v;
    return 1;
}

static int is(const krf_str *s, const char *word)
{
    return s->n == strlen(word) && strncasecmp(s->p, word, s->n) == 0;
}

/* --- strings and keys --- */

static reply *c_ping(kr_redis *r, int argc, krf_str *argv)
{
    (void)r;
    return argc == 2 ? r_str(argv[1].p, argv[1].n) : r_str("PONG", 4);
}

static reply *c_get(kr_redis *r, int argc, krf_str *argv)
{
    (void)argc;
    int wrong;
    rkey *k = typed(r, &argv[1], R_STRING, &wrong);
    if (wrong)
        return wrongtype();
    return k != NULL ? r_str(k->s.p, k->s.n) : r_nil();
}

static reply *c_set(kr_redis *r, int argc, krf_str *argv)
{
    int nx = 0, xx = 0, keepttl = 0;
    int64_t ttl = 0;
    for (int i = 3; i < argc; i++) {
        long long v;
        if (is(&argv[i], "NX")) {
            nx = 1;
        } else if (is(&argv[i], "XX")) {
            xx = 1;
        } else if (is(&argv[i], "KEEPTTL")) {
            keepttl = 1;
        } else if ((is(&argv[i], "EX") || is(&argv[i], "PX")) && i + 1 < argc && ttl == 0) {
            if (!parse_ll(&argv[i + 1], &v))
                return not_int();
            if (v <= 0)
                return r_err("ERR invalid expire time in 'set' command");
            ttl = is(&argv[i], "EX") ? v * 1000 : v;
            i++;
        } else {
            return r_err("ERR syntax error");
        }
    }
    if ((nx && xx) || (keepttl && ttl != 0))
        return r_err("ERR syntax error");
    size_t at;
    rkey *k = lookup(r, &argv[1], &at);
    if ((nx && k != NULL) || (xx && k == NULL))
        return r_nil();
    int64_t keep = k != NULL && keepttl ? k->expire_at : 0;
    if (k != NULL)
        del_at(r, at);
    k = create(r, &argv[1], R_STRING);
    free(k->s.p);
    k->s = dup(&argv[2]);
    k->expire_at = ttl != 0 ? krf_now_ms(r->fh) + ttl : keep;
    return r_ok();
}

static reply *c_del(kr_redis *r, int argc, krf_str *argv)
{
    long long n = 0;
    for (int i = 1; i < argc; i++) {
        size_t at;
        if (lookup(r, &argv[i], &at) != NULL) {
            del_at(r, at);
            n++;
        }
    }
    return r_int(n);
}

static reply *c_exists(kr_redis *r, int argc, krf_str *argv)
{
    long long n = 0;
    for (int i = 1; i < argc; i++)
        n += lookup(r, &argv[i], NULL) != NULL;
    return r_int(n);
}

static reply *expire_common(kr_redis *r, krf_str *argv, int64_t unit)
{
    long long v;
    if (!parse_ll(&argv[2], &v))
        return not_int();
    size_t at;
    rkey *k = lookup(r, &argv[1], &at);
    if (k == NULL)
        return r_int(0);
    if (v <= 0)
        del_at(r, at);
    else
        k->expire_at = krf_now_ms(r->fh) + v * unit;
    return r_int(1);
}

static reply *c_expire(kr_redis *r, int argc, krf_str *argv)
{
    (void)argc;
    return expire_common(r, argv, 1000);
}

static reply *c_pexpire(kr_redis *r, int argc, krf_str *argv)
{
    (void)argc;
    return expire_common(r, argv, 1);
}

static reply *ttl_common(kr_redis *r, krf_str *argv, int seconds)
{
    rkey *k = lookup(r, &argv[1], NULL);
    if (k == NULL)
        return r_int(-2);
    if (k->expire_at == 0)
        return r_int(-1);
    int64_t left = k->expire_at - krf_now_ms(r->fh);
    return r_int(seconds ? (left + 500) / 1000 : left);
}

static reply *c_ttl(kr_redis *r, int argc, krf_str *argv)
{
    (void)argc;
    return ttl_common(r, argv, 1);
}

static reply *c_pttl(kr_redis *r, int argc, krf_str *argv)
{
    (void)argc;
    return ttl_common(r, argv, 0);
}

static reply *incr_by(kr_redis *r, const krf_str *key, long long by)
{
    int wrong;
    rkey *k = typed(r, key, R_STRING, &wrong);
    if (wrong)
        return wrongtype();
    long long cur = 0, next;
    if (k != NULL && !parse_ll(&k->s, &cur))
        return not_int();
    if (__builtin_add_overflow(cur, by, &next))
        return r_err("ERR increment or decrement would overflow");
    if (k == NULL)
        k = create(r, key, R_STRING);
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", next);
    free(k->s.p);
    k->s = (krf_str){krf_xstrdup(buf), strlen(buf)};
    return r_int(next);
}

static reply *c_incr(kr_redis *r, int argc, krf_str *argv)
{
    (void)argc;
    return incr_by(r, &argv[1], 1);
}

static reply *c_decr(kr_redis *r, int argc, krf_str *argv)
{
    (void)argc;
    return incr_by(r, &argv[1], -1);
}

static reply *c_incrby(kr_redis *r, int argc, krf_str *argv)
{
    (void)argc;
    long long by;
    return parse_ll(&argv[2], &by) ? incr_by(r, &argv[1], by) : not_int();
}

static reply *c_decrby(kr_redis *r, int argc, krf_str *argv)
{
    (void)argc;
    long long by;
    if (!parse_ll(&argv[2], &by) || by == INT64_MIN)
        return not_int();
    return incr_by(r, &argv[1], -by);
}

/* --- hashes --- */

/* Index of the pair whose field is f, or -1. */
static long hfind(const rkey *k, const krf_str *f)
{
    for (size_t i = 0; i + 1 < k->n; i += 2)
        if (eq(&k->items[i], f))
            return (long)i;
    return -1;
}

static reply *c_hset(kr_redis *r, int argc, krf_str *argv)
{
    if (argc % 2 != 0)
        return r_err("ERR wrong number of arguments for 'hset' command");
    rkey *k = ensure(r, &argv[1], R_HASH);
    if (k == NULL)
        return wrongtype();
    long long added = 0;
    for (int i = 2; i < argc; i += 2) {
        long at = hfind(k, &argv[i]);
        if (at >= 0) {
            free(k->items[at + 1].p);
            k->items[at + 1] = dup(&argv[i + 1]);
        } else {
            push_item(k, &argv[i]);
            push_item(k, &argv[i + 1]);
            added++;
        }
    }
    return r_int(added);
}

static reply *c_hget(kr_redis *r, int argc, krf_str *argv)
{
    (void)argc;
    int wrong;
    rkey *k = typed(r, &argv[1], R_HASH, &wrong);
    if (wrong)
        return wrongtype();
    long at = k != NULL ? hfind(k, &argv[2]) : -1;
    return at >= 0 ? r_str(k->items[at + 1].p, k->items[at + 1].n) : r_nil();
}

static reply *c_hmget(kr_redis *r, int argc, krf_str *argv)
{
    int wrong;
    rkey *k = typed(r, &argv[1], R_HASH, &wrong);
    if (wrong)
        return wrongtype();
    reply *rp = r_arr((size_t)argc - 2);
    for (int i = 2; i < argc; i++) {
        long at = k != NULL ? hfind(k, &argv[i]) : -1;
        rp->element[i - 2] = at >= 0 ? r_str(k->items[at + 1].p, k->items[at + 1].n) : r_nil();
    }
    return rp;
}

static reply *all_items(const rkey *k)
{
    reply *rp = r_arr(k != NULL ? k->n : 0);
    for (size_t i = 0; k != NULL && i < k->n; i++)
        rp->element[i] = r_str(k->items[i].p, k->items[i].n);
    return rp;
}

static reply *c_hgetall(kr_redis *r, int argc, krf_str *argv)
{
    (void)argc;
    int wrong;
    rkey *k = typed(r, &argv[1], R_HASH, &wrong);
    return wrong ? wrongtype() : all_items(k);
}

static reply *c_hdel(kr_redis *r, int argc, krf_str *argv)
{
    int wrong;
    rkey *k = typed(r, &argv[1], R_HASH, &wrong);
    if (wrong)
        return wrongtype();
    long long n = 0;
    for (int i = 2; k != NULL && i < argc; i++) {
        long at = hfind(k, &argv[i]);
        if (at >= 0) {
            remove_items(k, (size_t)at, 2);
            n++;
        }
    }
    if (k != NULL)
        drop_if_empty(r, k);
    return r_int(n);
}

static reply *c_hincrby(kr_redis *r, int argc, krf_str *argv)
{
    (void)argc;
    long long by, cur = 0, next;
    if (!parse_ll(&argv[3], &by))
        return not_int();
    int wrong;
    rkey *k = typed(r, &argv[1], R_HASH, &wrong);
    if (wrong)
        return wrongtype();
    long at = k != NULL ? hfind(k, &argv[2]) : -1;
    if (at >= 0 && !parse_ll(&k->items[at + 1], &cur))
        return r_err("ERR hash value is not an integer");
    if (__builtin_add_overflow(cur, by, &next))
        return r_err("ERR increment or decrement would overflow");
    if (k == NULL)
        k = create(r, &argv[1], R_HASH);
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", next);
    krf_str v = {buf, strlen(buf)};
    if (at >= 0) {
        free(k->items[at + 1].p);
        k->items[at + 1] = dup(&v);
    } else {
        push_item(k, &argv[2]);
        push_item(k, &v);
    }
    return r_int(next);
}

static reply *c_hlen(kr_redis *r, int argc, krf_str *argv)
{
    (void)argc;
    int wrong;
    rkey *k = typed(r, &argv[1], R_HASH, &wrong);
    return wrong ? wrongtype() : r_int(k != NULL ? (long long)k->n / 2 : 0);
}

static reply *c_hexists(kr_redis *r, int argc, krf_str *argv)
{
    (void)argc;
    int wrong;
    rkey *k = typed(r, &argv[1], R_HASH, &wrong);
    return wrong ? wrongtype() : r_int(k != NULL && hfind(k, &argv[2]) >= 0);
}

/* --- sets --- */

static long sfind(const rkey *k, const krf_str *m)
{
    for (size_t i = 0; i < k->n; i++)
        if (eq(&k->items[i], m))
            return (long)i;
    return -1;
}

static reply *c_sadd(kr_redis *r, int argc, krf_str *argv)
{
    rkey *k = ensure(r, &argv[1], R_SET);
    if (k == NULL)
        return wrongtype();
    long long n = 0;
    for (int i = 2; i < argc; i++) {
        if (sfind(k, &argv[i]) < 0) {
            push_item(k, &argv[i]);
            n++;
        }
    }
    return r_int(n);
}

static reply *c_srem(kr_redis *r, int argc, krf_str *argv)
{
    int wrong;
    rkey *k = typed(r, &argv[1], R_SET, &wrong);
    if (wrong)
        return wrongtype();
    long long n = 0;
    for (int i = 2; k != NULL && i < argc; i++) {
        long at = sfind(k, &argv[i]);
        if (at >= 0) {
            remove_items(k, (size_t)at, 1);
            n++;
        }
    }
    if (k != NULL)
        drop_if_empty(r, k);
    return r_int(n);
}

static reply *c_smembers(kr_redis *r, int argc, krf_str *argv)
{
    (void)argc;
    int wrong;
    rkey *k = typed(r, &argv[1], R_SET, &wrong);
    return wrong ? wrongtype() : all_items(k);
}

static reply *c_sismember(kr_redis *r, int argc, krf_str *argv)
{
    (void)argc;
    int wrong;
    rkey *k = typed(r, &argv[1], R_SET, &wrong);
    return wrong ? wrongtype() : r_int(k != NULL && sfind(k, &argv[2]) >= 0);
}

static reply *c_scard(kr_redis *r, int argc, krf_str *argv)
{
    (void)argc;
    int wrong;
    rkey *k = typed(r, &argv[1], R_SET, &wrong);
    return wrong ? wrongtype() : r_int(k != NULL ? (long long)k->n : 0);
}

/* --- sorted sets --- */

static int zless(double s1, const krf_str *m1, double s2, const krf_str *m2)
{
    if (s1 != s2)
        return s1 < s2;
    size_t n = m1->n < m2->n ? m1->n : m2->n;
    int c = memcmp(m1->p, m2->p, n);
    return c < 0 || (c == 0 && m1->n < m2->n);
}

static void zinsert(rkey *k, const krf_str *m, double score)
{
    krf_grow(&k->items, &k->cap, k->n, sizeof(*k->items));
    krf_grow(&k->scores, &k->scap, k->n, sizeof(*k->scores));
    size_t at = 0;
    while (at < k->n && zless(k->scores[at], &k->items[at], score, m))
        at++;
    memmove(&k->items[at + 1], &k->items[at], (k->n - at) * sizeof(*k->items));
    memmove(&k->scores[at + 1], &k->scores[at], (k->n - at) * sizeof(*k->scores));
    k->items[at] = dup(m);
    k->scores[at] = score;
    k->n++;
}

static reply *c_zadd(kr_redis *r, int argc, krf_str *argv)
{
    int nx = 0, xx = 0, ch = 0, i = 2;
    for (; i < argc; i++) {
        if (is(&argv[i], "NX"))
            nx = 1;
        else if (is(&argv[i], "XX"))
            xx = 1;
        else if (is(&argv[i], "CH"))
            ch = 1;
        else
            break;
    }
    if ((argc - i) == 0 || (argc - i) % 2 != 0 || (nx && xx))
        return r_err("ERR syntax error");
    for (int j = i; j < argc; j += 2) {
        double d;
        if (!parse_double(&argv[j], &d))
            return r_err("ERR value is not a valid float");
    }
    rkey *k = ensure(r, &argv[1], R_ZSET);
    if (k == NULL)
        return wrongtype();
    long long added = 0, changed = 0;
    for (; i < argc; i += 2) {
        double score;
        parse_double(&argv[i], &score);
        long at = sfind(k, &argv[i + 1]);
        if (at >= 0 && !nx && k->scores[at] != score) {
            remove_items(k, (size_t)at, 1);
            zinsert(k, &argv[i + 1], score);
            changed++;
        } else if (at < 0 && !xx) {
            zinsert(k, &argv[i + 1], score);
            added++;
        }
    }
    drop_if_empty(r, k);
    return r_int(ch ? added + changed : added);
}

static reply *c_zrem(kr_redis *r, int argc, krf_str *argv)
{
    int wrong;
    rkey *k = typed(r, &argv[1], R_ZSET, &wrong);
    if (wrong)
        return wrongtype();
    long long n = 0;
    for (int i = 2; k != NULL && i < argc; i++) {
        long at = sfind(k, &argv[i]);
        if (at >= 0) {
            remove_items(k, (size_t)at, 1);
            n++;
        }
    }
    if (k != NULL)
        drop_if_empty(r, k);
    return r_int(n);
}

/* Redis's index range: negative counts from the end, clamped. 0 when the
 * range is empty. */
static int clamp_range(long long start, long long stop, size_t n, size_t *from, size_t *to)
{
    long long len = (long long)n;
    if (start < 0)
        start += len;
    if (stop < 0)
        stop += len;
    if (start < 0)
        start = 0;
    if (stop >= len)
        stop = len - 1;
    if (start > stop || start >= len)
        return 0;
    *from = (size_t)start;
    *to = (size_t)stop;
    return 1;
}

static reply *c_zrange(kr_redis *r, int argc, krf_str *argv)
{
    long long start, stop;
    if (!parse_ll(&argv[2], &start) || !parse_ll(&argv[3], &stop))
        return not_int();
    int scores = argc == 5 && is(&argv[4], "WITHSCORES");
    if (argc == 5 && !scores)
        return r_err("ERR syntax error");
    int wrong;
    rkey *k = typed(r, &argv[1], R_ZSET, &wrong);
    if (wrong)
        return wrongtype();
    size_t from, to;
    if (k == NULL || !clamp_range(start, stop, k->n, &from, &to))
        return r_arr(0);
    reply *rp = r_arr((to - from + 1) * (scores ? 2 : 1));
    for (size_t i = from, o = 0; i <= to; i++) {
        rp->element[o++] = r_str(k->items[i].p, k->items[i].n);
        if (scores)
            rp->element[o++] = r_double(k->scores[i]);
    }
    return rp;
}

static reply *c_zcard(kr_redis *r, int argc, krf_str *argv)
{
    (void)argc;
    int wrong;
    rkey *k = typed(r, &argv[1], R_ZSET, &wrong);
    return wrong ? wrongtype() : r_int(k != NULL ? (long long)k->n : 0);
}

static reply *c_zscore(kr_redis *r, int argc, krf_str *argv)
{
    (void)argc;
    int wrong;
    rkey *k = typed(r, &argv[1], R_ZSET, &wrong);
    if (wrong)
        return wrongtype();
    long at = k != NULL ? sfind(k, &argv[2]) : -1;
    return at >= 0 ? r_double(k->scores[at]) : r_nil();
}

/* min and max as Redis takes them: a number, "(" for exclusive, -inf and
 * +inf. */
static int parse_bound(const krf_str *s, double *v, int *excl)
{
    *excl = s->n > 0 && s->p[0] == '(';
    krf_str rest = {s->p + *excl, s->n - (size_t)*excl};
    return parse_double(&rest, v);
}

static reply *c_zremrangebyscore(kr_redis *r, int argc, krf_str *argv)
{
    (void)argc;
    double min, max;
    int emin, emax;
    if (!parse_bound(&argv[2], &min, &emin) || !parse_bound(&argv[3], &max, &emax))
        return r_err("ERR min or max is not a float");
    int wrong;
    rkey *k = typed(r, &argv[1], R_ZSET, &wrong);
    if (wrong)
        return wrongtype();
    long long n = 0;
    for (size_t i = 0; k != NULL && i < k->n;) {
        double s = k->scores[i];
        if ((emin ? s > min : s >= min) && (emax ? s < max : s <= max)) {
            remove_items(k, i, 1);
            n++;
        } else {
            i++;
        }
    }
    if (k != NULL)
        drop_if_empty(r, k);
    return r_int(n);
}

/* --- lists --- */

static reply *push_common(kr_redis *r, int argc, krf_str *argv, int left)
{
    rkey *k = ensure(r, &argv[1], R_LIST);
    if (k == NULL)
        return wrongtype();
    for (int i = 2; i < argc; i++) {
        push_item(k, &argv[i]);
        if (left) {
            krf_str v = k->items[k->n - 1];
            memmove(&k->items[1], &k->items[0], (k->n - 1) * sizeof(*k->items));
            k->items[0] = v;
        }
    }
    return r_int((long long)k->n);
}

static reply *c_lpush(kr_redis *r, int argc, krf_str *argv)
{
    return push_common(r, argc, argv, 1);
}

static reply *c_rpush(kr_redis *r, int argc, krf_str *argv)
{
    return push_common(r, argc, argv, 0);
}

static reply *c_lrange(kr_redis *r, int argc, krf_str *argv)
{
    (void)argc;
    long long start, stop;
    if (!parse_ll(&argv[2], &start) || !parse_ll(&argv[3], &stop))
        return not_int();
    int wrong;
    rkey *k = typed(r, &argv[1], R_LIST, &wrong);
    if (wrong)
        return wrongtype();
    size_t from, to;
    if (k == NULL || !clamp_range(start, stop, k->n, &from, &to))
        return r_arr(0);
    reply *rp = r_arr(to - from + 1);
    for (size_t i = from; i <= to; i++)
        rp->element[i - from] = r_str(k->items[i].p, k->items[i].n);
    return rp;
}

static reply *c_llen(kr_redis *r, int argc, krf_str *argv)
{
    (void)argc;
    int wrong;
    rkey *k = typed(r, &argv[1], R_LIST, &wrong);
    return wrong ? wrongtype() : r_int(k != NULL ? (long long)k->n : 0);
}

/* --- pub/sub, scripts --- */

static reply *c_publish(kr_redis *r, int argc, krf_str *argv)
{
    (void)argc;
    krf_grow(&r->pubs, &r->cappubs, r->npubs, sizeof(*r->pubs));
    r->pubs[r->npubs].channel = krf_xstrndup(argv[1].p, argv[1].n);
    r->pubs[r->npubs].msg = dup(&argv[2]);
    r->npubs++;
    return r_int(0); /* nobody subscribes inside the fake host */
}

static reply *c_eval(kr_redis *r, int argc, krf_str *argv)
{
    (void)r;
    (void)argc;
    return r_err("ERR %.*s is not supported by the fake host", (int)argv[0].n, argv[0].p);
}

/* arity as Redis states it: n exact, -n at least n (the name included). */
static const struct command {
    const char *name;
    int arity;
    cmd_fn fn;
} commands[] = {
    {"PING", -1, c_ping},
    {"GET", 2, c_get},
    {"SET", -3, c_set},
    {"DEL", -2, c_del},
    {"EXISTS", -2, c_exists},
    {"EXPIRE", 3, c_expire},
    {"PEXPIRE", 3, c_pexpire},
    {"TTL", 2, c_ttl},
    {"PTTL", 2, c_pttl},
    {"INCR", 2, c_incr},
    {"INCRBY", 3, c_incrby},
    {"DECR", 2, c_decr},
    {"DECRBY", 3, c_decrby},
    {"HSET", -4, c_hset},
    {"HGET", 3, c_hget},
    {"HMGET", -3, c_hmget},
    {"HGETALL", 2, c_hgetall},
    {"HDEL", -3, c_hdel},
    {"HINCRBY", 4, c_hincrby},
    {"HLEN", 2, c_hlen},
    {"HEXISTS", 3, c_hexists},
    {"SADD", -3, c_sadd},
    {"SREM", -3, c_srem},
    {"SMEMBERS", 2, c_smembers},
    {"SISMEMBER", 3, c_sismember},
    {"SCARD", 2, c_scard},
    {"ZADD", -4, c_zadd},
    {"ZREM", -3, c_zrem},
    {"ZRANGE", -4, c_zrange},
    {"ZCARD", 2, c_zcard},
    {"ZSCORE", 3, c_zscore},
    {"ZREMRANGEBYSCORE", 4, c_zremrangebyscore},
    {"LPUSH", -3, c_lpush},
    {"RPUSH", -3, c_rpush},
    {"LRANGE", 4, c_lrange},
    {"LLEN", 2, c_llen},
    {"PUBLISH", 3, c_publish},
    {"EVAL", -3, c_eval},
    {"EVALSHA", -3, c_eval},
};

/* The command, or NULL with the error reply in *err (unknown or arity). */
static const struct command *resolve(int argc, krf_str *argv, reply **err)
{
    *err = NULL;
    if (argc < 1) {
        *err = r_err("ERR empty command");
        return NULL;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        const struct command *c = &commands[i];
        if (!is(&argv[0], c->name))
            continue;
        if ((c->arity > 0 && argc != c->arity) || (c->arity < 0 && argc < -c->arity)) {
            *err = r_err("ERR wrong number of arguments for '%s' command", c->name);
            return NULL;
        }
        return c;
    }
    *err = r_err("ERR unknown command '%.*s'", (int)argv[0].n, argv[0].p);
    return NULL;
}

static reply *run(kr_redis *r, int argc, krf_str *argv)
{
    reply *err;
    const struct command *c = resolve(argc, argv, &err);
    return c != NULL ? c->fn(r, argc, argv) : err;
}

/* Borrowed views of the caller's arguments. */
static krf_str *args(int argc, const char *const *argv, const size_t *argvlen)
{
    krf_str *a = krf_xcalloc((size_t)argc, sizeof(*a));
    for (int i = 0; i < argc; i++)
        a[i] = (krf_str){(char *)argv[i], argvlen != NULL ? argvlen[i] : strlen(argv[i])};
    return a;
}

static int is_txn(const krf_str *a, int argc)
{
    return argc >= 1 && (is(&a[0], "MULTI") || is(&a[0], "EXEC") || is(&a[0], "DISCARD"));
}

static int enter(kr_redis *r)
{
    int f = krf_take_fault(&r->mu, &r->fail_err, &r->fail_times);
    if (f != 0)
        return krf_fail(f, "fake host: injected Redis failure (%s)", kr_strerror(f));
    pthread_mutex_lock(&r->mu);
    return 0;
}

int krf_redis_command_argv(kr_redis *r, int argc, const char *const *argv, const size_t *argvlen, kr_redis_reply **out)
{
    *out = NULL;
    if (argc < 1 || argv == NULL)
        return krf_fail(KR_EINVAL, "a Redis command needs a name");
    int rc = enter(r);
    if (rc != 0)
        return rc;
    krf_str *a = args(argc, argv, argvlen);
    /* A pooled connection goes back to the pool after each call, so a
     * transaction only makes sense inside one pipeline. */
    *out = is_txn(a, argc) ? r_err("ERR %.*s is only supported inside kr_redis_pipeline", (int)a[0].n, a[0].p)
                           : run(r, argc, a);
    free(a);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

int krf_redis_pipeline(kr_redis *r, size_t n, const kr_redis_cmd *cmds, kr_redis_reply ***replies)
{
    *replies = NULL;
    for (size_t i = 0; i < n; i++)
        if (cmds[i].argc < 1 || cmds[i].argv == NULL)
            return krf_fail(KR_EINVAL, "pipeline command %zu has no name", i);
    int rc = enter(r);
    if (rc != 0)
        return rc;
    reply **out = krf_xcalloc(n, sizeof(*out));
    int in_multi = 0, dirty = 0;
    size_t *queued = krf_xcalloc(n, sizeof(*queued)), nq = 0;
    for (size_t i = 0; i < n; i++) {
        krf_str *a = args(cmds[i].argc, cmds[i].argv, cmds[i].argvlen);
        int argc = cmds[i].argc;
        if (is(&a[0], "MULTI")) {
            out[i] = in_multi ? r_err("ERR MULTI calls can not be nested") : r_ok();
            in_multi = 1;
        } else if (is(&a[0], "DISCARD")) {
            out[i] = in_multi ? r_ok() : r_err("ERR DISCARD without MULTI");
            in_multi = dirty = 0;
            nq = 0;
        } else if (is(&a[0], "EXEC")) {
            if (!in_multi) {
                out[i] = r_err("ERR EXEC without MULTI");
            } else if (dirty) {
                out[i] = r_err("EXECABORT Transaction discarded because of previous errors.");
            } else {
                out[i] = r_arr(nq);
                for (size_t q = 0; q < nq; q++) {
                    krf_str *qa = args(cmds[queued[q]].argc, cmds[queued[q]].argv, cmds[queued[q]].argvlen);
                    out[i]->element[q] = run(r, cmds[queued[q]].argc, qa);
                    free(qa);
                }
            }
            in_multi = dirty = 0;
            nq = 0;
        } else if (in_multi) {
            /* Redis checks name and arity when queueing. */
            reply *err;
            if (resolve(argc, a, &err) == NULL) {
                out[i] = err;
                dirty = 1;
            } else {
                out[i] = r_str("QUEUED", 6);
                queued[nq++] = i;
            }
        } else {
            out[i] = run(r, argc, a);
        }
        free(a);
    }
    free(queued);
    pthread_mutex_unlock(&r->mu);
    *replies = out;
    return 0;
}

kr_redis *krf_redis_new(kr_fakehost *fh)
{
    kr_redis *r = krf_xcalloc(1, sizeof(*r));
    r->h.host = &krf_host;
    r->fh = fh;
    pthread_mutex_init(&r->mu, NULL);
    return r;
}

void krf_redis_free(kr_redis *r)
{
    if (r == NULL)
        return;
    while (r->nkeys > 0)
        del_at(r, r->nkeys - 1);
    free(r->keys);
    for (size_t i = 0; i < r->npubs; i++) {
        free(r->pubs[i].channel);
        free(r->pubs[i].msg.p);
    }
    free(r->pubs);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

void krf_redis_fail(kr_redis *r, int err, int times)
{
    pthread_mutex_lock(&r->mu);
    r->fail_err = err;
    r->fail_times = times;
    pthread_mutex_unlock(&r->mu);
}

json_t *krf_redis_published(kr_redis *r, const char *channel)
{
    json_t *out = json_array();
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->npubs; i++)
        if (strcmp(r->pubs[i].channel, channel) == 0)
            json_array_append_new(out, json_stringn_nocheck(r->pubs[i].msg.p, r->pubs[i].msg.n));
    pthread_mutex_unlock(&r->mu);
    return out;
}
