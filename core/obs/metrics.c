#include "core/obs/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/err.h"

typedef enum mtype { T_COUNTER, T_GAUGE, T_HISTOGRAM } mtype;
static const char *const type_names[] = {"counter", "gauge", "histogram"};

typedef struct family family;

/* The part every metric shares; the kr_handle must stay first so that a
 * metric can be handed to plugins as kr_counter / kr_gauge. */
typedef struct series series;
struct series {
    kr_handle h;
    family *fam;
    char *labels;  /* canonical text, "" for none */
    series *next;  /* in the family, registration order */
    series *hnext; /* hash chain */
};

struct krc_counter {
    series s;
    _Atomic uint64_t v;
};

struct krc_gauge {
    series s;
    _Atomic int64_t v;
};

struct krc_histogram {
    series s;
    size_t nbounds;
    double *bounds;
    _Atomic uint64_t *buckets; /* nbounds + 1, not cumulative: one add per observation */
    _Atomic uint64_t sum_bits; /* a double, updated by CAS */
};

struct family {
    char *name;
    char *help;
    mtype type;
    series *first, *last;
    family *next;
};

typedef struct collector {
    krc_metrics_collect_fn fn;
    void *udata;
} collector;

static struct {
    pthread_mutex_t mu; /* families, series and the hash */
    const kr_host *host;
    family *first, *last;
    series **hash;
    size_t nhash, nseries;
    /* Serialises renders, so collect callbacks never run concurrently, and
     * guards the collectors. Taken before mu, never while holding it. */
    pthread_mutex_t render_mu;
    collector *collectors;
    size_t ncollectors;
} reg = {.mu = PTHREAD_MUTEX_INITIALIZER, .render_mu = PTHREAD_MUTEX_INITIALIZER};

void krc_metrics_init(const kr_host *host)
{
    reg.host = host;
}

static void series_free(mtype t, series *s)
{
    if (t == T_HISTOGRAM) {
        krc_histogram *h = (krc_histogram *)s;
        free(h->bounds);
        free(h->buckets);
    }
    free(s->labels);
    free(s);
}

void krc_metrics_free(void)
{
    pthread_mutex_lock(&reg.mu);
    for (family *f = reg.first, *fn; f != NULL; f = fn) {
        fn = f->next;
        for (series *s = f->first, *sn; s != NULL; s = sn) {
            sn = s->next;
            series_free(f->type, s);
        }
        free(f->name);
        free(f->help);
        free(f);
    }
    free(reg.hash);
    reg.first = reg.last = NULL;
    reg.hash = NULL;
    reg.nhash = reg.nseries = 0;
    reg.host = NULL;
    pthread_mutex_unlock(&reg.mu);
    pthread_mutex_lock(&reg.render_mu);
    free(reg.collectors);
    reg.collectors = NULL;
    reg.ncollectors = 0;
    pthread_mutex_unlock(&reg.render_mu);
}

/* --- growable text --- */

typedef struct buf {
    char *p;
    size_t len, cap;
    bool failed;
} buf;

static void buf_reserve(buf *b, size_t more)
{
    if (b->failed || b->len + more < b->cap)
        return;
    size_t cap = b->cap != 0 ? b->cap : 4096;
    while (cap <= b->len + more)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->failed = true;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static void buf_add(buf *b, const char *s, size_t n)
{
    buf_reserve(b, n);
    if (b->failed)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_str(buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(buf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if ((size_t)n < sizeof(tmp)) {
        buf_add(b, tmp, (size_t)n);
        return;
    }
    buf_reserve(b, (size_t)n + 1);
    if (b->failed)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* --- names and labels --- */

static bool name_ok(const char *s, bool metric)
{
    if (s == NULL || *s == '\0')
        return false;
    for (const char *p = s; *p != '\0'; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (metric && c == ':');
        if (!alpha && !(p != s && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

/* Parses `a="x",b="y"` (values may hold \\, \" and \n escapes) and returns
 * it re-escaped in one canonical spelling, so that lookups compare equal
 * and the exposition is always well-formed. Caller-owned; NULL with
 * krc_err set. */
static char *labels_canon(const char *labels, bool histogram)
{
    buf b = {0};
    buf_add(&b, "", 0);
    char seen[32][64];
    size_t nseen = 0;
    const char *p = labels != NULL ? labels : "";
    const char *why = NULL;
    while (*p != '\0' && why == NULL) {
        const char *n = p;
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || (p != n && *p >= '0' && *p <= '9'))
            p++;
        size_t nlen = (size_t)(p - n);
        if (nlen == 0 || p[0] != '=' || p[1] != '"') {
            why = "want name=\"value\" pairs separated by commas";
            break;
        }
        if (nlen >= sizeof(seen[0]) || (nlen >= 2 && n[0] == '_' && n[1] == '_') ||
            (histogram && nlen == 2 && memcmp(n, "le", 2) == 0)) {
            why = "reserved or overlong label name";
            break;
        }
        for (size_t i = 0; i < nseen && why == NULL; i++)
            if (strlen(seen[i]) == nlen && memcmp(seen[i], n, nlen) == 0)
                why = "duplicate label name";
        if (why != NULL)
            break;
        if (nseen == sizeof(seen) / sizeof(seen[0])) {
            why = "too many labels";
            break;
        }
        memcpy(seen[nseen], n, nlen);
        seen[nseen++][nlen] = '\0';
        if (b.len > 0)
            buf_add(&b, ",", 1);
        buf_add(&b, n, nlen);
        buf_add(&b, "=\"", 2);
        for (p += 2; *p != '"'; p++) {
            char c = *p;
            if (c == '\0') {
                why = "unterminated label value";
                break;
            }
            if (c == '\\') {
                c = *++p;
                if (c == 'n')
                    c = '\n';
                else if (c != '\\' && c != '"') {
                    why = "bad escape in label value (want \\\\, \\\" or \\n)";
                    break;
                }
            }
            if (c == '\\')
                buf_add(&b, "\\\\", 2);
            else if (c == '"')
                buf_add(&b, "\\\"", 2);
            else if (c == '\n')
                buf_add(&b, "\\n", 2);
            else
                buf_add(&b, &c, 1);
        }
        if (why != NULL)
            break;
        buf_add(&b, "\"", 1);
        p++;
        if (*p == ',' && p[1] != '\0')
            p++;
        else if (*p != '\0')
            why = "want name=\"value\" pairs separated by commas";
    }
    if (why != NULL || b.failed) {
        free(b.p);
        if (why != NULL)
            krc_err_set(KR_EINVAL, "metric labels `%s`: %s", labels, why);
        else
            krc_err_set(KR_ENOMEM, "metric labels: out of memory");
        return NULL;
    }
    return b.p;
}

/* --- registry (reg.mu held) --- */

static size_t key_hash(const char *name, const char *labels)
{
    uint64_t h = 1469598103934665603u;
    for (const char *p = name; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211u;
    h = (h ^ 0xff) * 1099511628211u;
    for (const char *p = labels; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211u;
    return (size_t)h;
}

static family *family_find(const char *name)
{
    for (family *f = reg.first; f != NULL; f = f->next)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

/* A histogram `h` renders h_bucket, h_sum and h_count: those names must not
 * belong to another family, nor a new family's name to an existing
 * histogram's series. */
static bool suffix_clash(const char *name, mtype t)
{
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    size_t nlen = strlen(name);
    for (family *f = reg.first; f != NULL; f = f->next) {
        size_t flen = strlen(f->name);
        for (size_t i = 0; i < 3; i++) {
            size_t slen = strlen(suffixes[i]);
            if (t == T_HISTOGRAM && flen == nlen + slen && strncmp(f->name, name, nlen) == 0 &&
                strcmp(f->name + nlen, suffixes[i]) == 0)
                return true;
            if (f->type == T_HISTOGRAM && nlen == flen + slen && strncmp(name, f->name, flen) == 0 &&
                strcmp(name + flen, suffixes[i]) == 0)
                return true;
        }
    }
    return false;
}

static series *series_find(const family *f, const char *labels, size_t h)
{
    if (reg.nhash == 0)
        return NULL;
    for (series *s = reg.hash[h % reg.nhash]; s != NULL; s = s->hnext)
        if (s->fam == f && strcmp(s->labels, labels) == 0)
            return s;
    return NULL;
}

static bool hash_insert(series *s)
{
    if (reg.nseries + 1 > reg.nhash) {
        size_t n = reg.nhash != 0 ? reg.nhash * 2 : 64;
        series **t = calloc(n, sizeof(*t));
        if (t == NULL)
            return false;
        for (size_t i = 0; i < reg.nhash; i++)
            for (series *e = reg.hash[i], *en; e != NULL; e = en) {
                en = e->hnext;
                size_t at = key_hash(e->fam->name, e->labels) % n;
                e->hnext = t[at];
                t[at] = e;
            }
        free(reg.hash);
        reg.hash = t;
        reg.nhash = n;
    }
    size_t at = key_hash(s->fam->name, s->labels) % reg.nhash;
    s->hnext = reg.hash[at];
    reg.hash[at] = s;
    reg.nseries++;
    return true;
}

static family *family_get(const char *name, const char *help, mtype t)
{
    family *f = family_find(name);
    if (f != NULL) {
        if (f->type != t) {
            krc_err_set(KR_EINVAL, "metric %s is already a %s, not a %s", name, type_names[f->type], type_names[t]);
            return NULL;
        }
        return f;
    }
    if (suffix_clash(name, t)) {
        krc_err_set(KR_EINVAL, "metric %s clashes with the _bucket/_sum/_count series of a histogram", name);
        return NULL;
    }
    f = calloc(1, sizeof(*f));
    if (f == NULL || (f->name = strdup(name)) == NULL ||
        (help != NULL && help[0] != '\0' && (f->help = strdup(help)) == NULL)) {
        if (f != NULL)
            free(f->name);
        free(f);
        krc_err_set(KR_ENOMEM, "metric %s: out of memory", name);
        return NULL;
    }
    f->type = t;
    if (reg.last != NULL)
        reg.last->next = f;
    else
        reg.first = f;
    reg.last = f;
    return f;
}

static series *new_series(mtype t, const double *bounds, size_t nbounds)
{
    if (t == T_COUNTER)
        return calloc(1, sizeof(krc_counter));
    if (t == T_GAUGE)
        return calloc(1, sizeof(krc_gauge));
    krc_histogram *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    h->nbounds = nbounds;
    h->bounds = malloc((nbounds != 0 ? nbounds : 1) * sizeof(double));
    h->buckets = calloc(nbounds + 1, sizeof(*h->buckets));
    if (h->bounds == NULL || h->buckets == NULL) {
        free(h->bounds);
        free(h->buckets);
        free(h);
        return NULL;
    }
    if (nbounds != 0)
        memcpy(h->bounds, bounds, nbounds * sizeof(double));
    return &h->s;
}

static series *get(mtype t, const char *name, const char *help, const char *labels, const double *bounds,
                   size_t nbounds)
{
    if (!name_ok(name, true)) {
        krc_err_set(KR_EINVAL, "bad metric name \"%s\" (want [a-zA-Z_:][a-zA-Z0-9_:]*)", name ? name : "");
        return NULL;
    }
    char *canon = labels_canon(labels, t == T_HISTOGRAM);
    if (canon == NULL)
        return NULL;
    pthread_mutex_lock(&reg.mu);
    series *s = NULL;
    family *f = family_get(name, help, t);
    if (f == NULL)
        goto out;
    size_t h = key_hash(name, canon);
    s = series_find(f, canon, h);
    if (s != NULL) {
        const krc_histogram *hg = (const krc_histogram *)s;
        if (t == T_HISTOGRAM &&
            (hg->nbounds != nbounds || (nbounds != 0 && memcmp(hg->bounds, bounds, nbounds * sizeof(double)) != 0))) {
            krc_err_set(KR_EINVAL, "histogram %s{%s} already exists with other buckets", name, canon);
            s = NULL;
        }
        goto out;
    }
    s = new_series(t, bounds, nbounds);
    if (s == NULL) {
        krc_err_set(KR_ENOMEM, "metric %s: out of memory", name);
        goto out;
    }
    s->h.host = reg.host;
    s->fam = f;
    s->labels = canon;
    canon = NULL;
    if (!hash_insert(s)) {
        series_free(t, s);
        s = NULL;
        krc_err_set(KR_ENOMEM, "metric %s: out of memory", name);
        goto out;
    }
    if (f->last != NULL)
        f->last->next = s;
    else
        f->first = s;
    f->last = s;
out:
    pthread_mutex_unlock(&reg.mu);
    free(canon);
    return s;
}

krc_counter *krc_metrics_counter(const char *name, const char *help, const char *labels)
{
    return (krc_counter *)get(T_COUNTER, name, help, labels, NULL, 0);
}

krc_gauge *krc_metrics_gauge(const char *name, const char *help, const char *labels)
{
    return (krc_gauge *)get(T_GAUGE, name, help, labels, NULL, 0);
}

krc_histogram *krc_metrics_histogram(const char *name, const char *help, const char *labels, const double *bounds,
                                     size_t nbounds)
{
    /* A trailing +Inf is the implied bucket anyway. */
    if (nbounds > 0 && isinf(bounds[nbounds - 1]) && bounds[nbounds - 1] > 0)
        nbounds--;
    for (size_t i = 0; i < nbounds; i++)
        if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1]))) {
            krc_err_set(KR_EINVAL, "histogram %s: bounds must be finite and strictly ascending", name ? name : "");
            return NULL;
        }
    return (krc_histogram *)get(T_HISTOGRAM, name, help, labels, bounds, nbounds);
}

/* --- updates --- */

void krc_counter_add(krc_counter *c, uint64_t n)
{
    atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}

uint64_t krc_counter_get(const krc_counter *c)
{
    return atomic_load_explicit(&c->v, memory_order_relaxed);
}

void krc_gauge_set(krc_gauge *g, int64_t v)
{
    atomic_store_explicit(&g->v, v, memory_order_relaxed);
}

void krc_gauge_add(krc_gauge *g, int64_t delta)
{
    atomic_fetch_add_explicit(&g->v, delta, memory_order_relaxed);
}

int64_t krc_gauge_get(const krc_gauge *g)
{
    return atomic_load_explicit(&g->v, memory_order_relaxed);
}

static double bits_double(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof(d));
    return d;
}

static uint64_t double_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof(b));
    return b;
}

void krc_histogram_observe(krc_histogram *h, double v)
{
    /* One NaN would turn _sum into NaN for the life of the process. */
    if (isnan(v))
        return;
    size_t lo = 0, hi = h->nbounds;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v <= h->bounds[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    atomic_fetch_add_explicit(&h->buckets[lo], 1, memory_order_relaxed);
    uint64_t old = atomic_load_explicit(&h->sum_bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&h->sum_bits, &old, double_bits(bits_double(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

/* --- rendering --- */

void krc_metrics_on_collect(krc_metrics_collect_fn fn, void *udata)
{
    pthread_mutex_lock(&reg.render_mu);
    collector *c = realloc(reg.collectors, (reg.ncollectors + 1) * sizeof(*c));
    if (c != NULL) {
        reg.collectors = c;
        c[reg.ncollectors++] = (collector){fn, udata};
    }
    pthread_mutex_unlock(&reg.render_mu);
}

/* Shortest spelling that reads back as the same double. */
static void fmt_double(char out[32], double v)
{
    if (isnan(v)) {
        strcpy(out, "NaN");
        return;
    }
    if (isinf(v)) {
        strcpy(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, 32, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

static void put_help(buf *b, const family *f)
{
    if (f->help == NULL)
        return;
    buf_printf(b, "# HELP %s ", f->name);
    for (const char *p = f->help; *p != '\0'; p++) {
        if (*p == '\\')
            buf_add(b, "\\\\", 2);
        else if (*p == '\n')
            buf_add(b, "\\n", 2);
        else
            buf_add(b, p, 1);
    }
    buf_add(b, "\n", 1);
}

/* `name{labels,le="x"} `; le may be NULL. */
static void put_series_name(buf *b, const char *name, const char *suffix, const char *labels, const char *le)
{
    buf_str(b, name);
    buf_str(b, suffix);
    if (labels[0] == '\0' && le == NULL) {
        buf_add(b, " ", 1);
        return;
    }
    buf_add(b, "{", 1);
    buf_str(b, labels);
    if (le != NULL) {
        if (labels[0] != '\0')
            buf_add(b, ",", 1);
        buf_printf(b, "le=\"%s\"", le);
    }
    buf_add(b, "} ", 2);
}

static void put_histogram(buf *b, const char *name, const krc_histogram *h)
{
    char num[32];
    uint64_t cum = 0;
    for (size_t i = 0; i <= h->nbounds; i++) {
        cum += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        if (i < h->nbounds)
            fmt_double(num, h->bounds[i]);
        else
            strcpy(num, "+Inf");
        put_series_name(b, name, "_bucket", h->s.labels, num);
        buf_printf(b, "%llu\n", (unsigned long long)cum);
    }
    put_series_name(b, name, "_sum", h->s.labels, NULL);
    fmt_double(num, bits_double(atomic_load_explicit(&h->sum_bits, memory_order_relaxed)));
    buf_str(b, num);
    buf_add(b, "\n", 1);
    /* The +Inf bucket, not a separate count, so the two always agree. */
    put_series_name(b, name, "_count", h->s.labels, NULL);
    buf_printf(b, "%llu\n", (unsigned long long)cum);
}

char *krc_metrics_render(size_t *len)
{
    pthread_mutex_lock(&reg.render_mu);
    for (size_t i = 0; i < reg.ncollectors; i++)
        reg.collectors[i].fn(reg.collectors[i].udata);
    buf b = {0};
    buf_add(&b, "", 0);
    pthread_mutex_lock(&reg.mu);
    for (const family *f = reg.first; f != NULL; f = f->next) {
        put_help(&b, f);
        buf_printf(&b, "# TYPE %s %s\n", f->name, type_names[f->type]);
        for (const series *s = f->first; s != NULL; s = s->next) {
            if (f->type == T_COUNTER) {
                put_series_name(&b, f->name, "", s->labels, NULL);
                buf_printf(&b, "%llu\n", (unsigned long long)krc_counter_get((const krc_counter *)s));
            } else if (f->type == T_GAUGE) {
                put_series_name(&b, f->name, "", s->labels, NULL);
                buf_printf(&b, "%lld\n", (long long)krc_gauge_get((const krc_gauge *)s));
            } else {
                put_histogram(&b, f->name, (const krc_histogram *)s);
            }
        }
    }
    pthread_mutex_unlock(&reg.mu);
    pthread_mutex_unlock(&reg.render_mu);
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    if (len != NULL)
        *len = b.len;
    return b.p;
}
