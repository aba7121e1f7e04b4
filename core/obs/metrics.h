/* Core: the metrics registry and its Prometheus text.
 *
 * One registry per process. Registration takes a lock and returns the same
 * object for the same name and labels; updates are lock-free atomics, so the
 * request path never waits. Every metric object starts with a kr_handle so it
 * can be handed to plugins as kr_counter / kr_gauge. */
#ifndef KRC_OBS_METRICS_H
#define KRC_OBS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "kirana/host.h"

typedef struct krc_counter krc_counter;
typedef struct krc_gauge krc_gauge;
typedef struct krc_histogram krc_histogram;

/* main thread, before any registration: the host table metric handles point
 * at (may be NULL in unit tests). */
void krc_metrics_init(const kr_host *host);
/* main thread, at exit. Frees every metric. */
void krc_metrics_free(void);

/* any thread. name: [a-zA-Z_:][a-zA-Z0-9_:]* used as is (callers add
 * "kirana_"); labels: Prometheus label text without braces
 * (`route="GET /x",status="200"`) or NULL. Borrowed, lives until
 * krc_metrics_free. NULL on a bad name or a type clash with an existing
 * name. */
krc_counter *krc_metrics_counter(const char *name, const char *help, const char *labels);
krc_gauge *krc_metrics_gauge(const char *name, const char *help, const char *labels);
/* bounds: ascending upper bounds (+Inf implied), copied. */
krc_histogram *krc_metrics_histogram(const char *name, const char *help, const char *labels,
                                     const double *bounds, size_t nbounds);

/* any thread, lock-free. */
void krc_counter_add(krc_counter *c, uint64_t n);
uint64_t krc_counter_get(const krc_counter *c);
void krc_gauge_set(krc_gauge *g, int64_t v);
void krc_gauge_add(krc_gauge *g, int64_t delta);
int64_t krc_gauge_get(const krc_gauge *g);
void krc_histogram_observe(krc_histogram *h, double v);

/* Called at render time to refresh gauges whose value lives elsewhere (pool
 * queue depth, queue job counts). fn runs on the rendering thread. */
typedef void (*krc_metrics_collect_fn)(void *udata);
/* main thread. */
void krc_metrics_on_collect(krc_metrics_collect_fn fn, void *udata);

/* any thread. Prometheus text exposition format 0.0.4 of every metric,
 * grouped by name (HELP and TYPE once per name). Caller-owned (free()). */
char *krc_metrics_render(size_t *len);

#endif
