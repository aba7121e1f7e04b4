/* Fake host: counters and gauges kept in memory for the test to read. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int name_ok(const char *name)
{
    if (name == NULL || name[0] == '\0' || (name[0] >= '0' && name[0] <= '9'))
        return 0;
    return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:") == strlen(name);
}

static krf_metric *find(kr_fakehost *fh, const char *name, const char *labels)
{
    for (size_t i = 0; i < fh->nmetrics; i++)
        if (strcmp(fh->metrics[i]->name, name) == 0 && strcmp(fh->metrics[i]->labels, labels) == 0)
            return fh->metrics[i];
    return NULL;
}

static krf_metric *get(kr_plugin_ctx *ctx, const char *name, const char *labels, int is_gauge)
{
    if (!name_ok(name)) {
        krf_fail(KR_EINVAL, "bad metric name '%s'", name != NULL ? name : "(null)");
        return NULL;
    }
    kr_fakehost *fh = ctx->fh;
    labels = labels != NULL ? labels : "";
    pthread_mutex_lock(&fh->mu);
    krf_metric *m = find(fh, name, labels);
    if (m != NULL && m->is_gauge != is_gauge) {
        pthread_mutex_unlock(&fh->mu);
        krf_fail(KR_EINVAL, "metric '%s' is already registered as a %s", name, m->is_gauge ? "gauge" : "counter");
        return NULL;
    }
    if (m == NULL) {
        m = krf_xcalloc(1, sizeof(*m));
        m->h.host = &krf_host;
        m->is_gauge = is_gauge;
        m->name = krf_xstrdup(name);
        m->labels = krf_xstrdup(labels);
        krf_grow(&fh->metrics, &fh->capmetrics, fh->nmetrics, sizeof(*fh->metrics));
        fh->metrics[fh->nmetrics++] = m;
    }
    pthread_mutex_unlock(&fh->mu);
    return m;
}

kr_counter *krf_metrics_counter(kr_plugin_ctx *ctx, const char *name, const char *help, const char *labels)
{
    (void)help;
    return (kr_counter *)get(ctx, name, labels, 0);
}

kr_gauge *krf_metrics_gauge(kr_plugin_ctx *ctx, const char *name, const char *help, const char *labels)
{
    (void)help;
    return (kr_gauge *)get(ctx, name, labels, 1);
}

void krf_counter_add(kr_counter *c, uint64_t n)
{
    atomic_fetch_add(&((krf_metric *)c)->counter, n);
}

void krf_gauge_add(kr_gauge *g, int64_t delta, int set)
{
    krf_metric *m = (krf_metric *)g;
    if (set)
        atomic_store(&m->gauge, delta);
    else
        atomic_fetch_add(&m->gauge, delta);
}

void krf_metrics_free(kr_fakehost *fh)
{
    for (size_t i = 0; i < fh->nmetrics; i++) {
        free(fh->metrics[i]->name);
        free(fh->metrics[i]->labels);
        free(fh->metrics[i]);
    }
    free(fh->metrics);
}

uint64_t kr_fakehost_counter(kr_fakehost *fh, const char *name, const char *labels)
{
    pthread_mutex_lock(&fh->mu);
    krf_metric *m = find(fh, name, labels != NULL ? labels : "");
    uint64_t v = m != NULL && !m->is_gauge ? atomic_load(&m->counter) : 0;
    pthread_mutex_unlock(&fh->mu);
    return v;
}

int64_t kr_fakehost_gauge(kr_fakehost *fh, const char *name, const char *labels)
{
    pthread_mutex_lock(&fh->mu);
    krf_metric *m = find(fh, name, labels != NULL ? labels : "");
    int64_t v = m != NULL && m->is_gauge ? atomic_load(&m->gauge) : 0;
    pthread_mutex_unlock(&fh->mu);
    return v;
}
