/* kirana SDK: logging and metrics. */
#ifndef KIRANA_LOG_H
#define KIRANA_LOG_H

#include <stdarg.h>
#include <stdint.h>

#include "kirana/http.h"
#include "kirana/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kr_level {
    KR_LOG_DEBUG = 0,
    KR_LOG_INFO = 1,
    KR_LOG_WARN = 2,
    KR_LOG_ERROR = 3,
} kr_level;

/* any thread. One JSON log line naming the plugin. */
void kr_log(const kr_plugin_ctx *ctx, kr_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* worker thread. One JSON log line naming the plugin and the request id. */
void kr_req_log(const kr_req *req, kr_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef struct kr_counter kr_counter;
typedef struct kr_gauge kr_gauge;

/* init thread. A Prometheus counter (name gets the prefix "kirana_"),
 * optional constant labels as Prometheus text (`queue="otp"`) or NULL.
 * Borrowed; lives as long as the process. Registering the same name and
 * labels twice returns the same counter. NULL on a bad name. */
kr_counter *kr_metrics_counter(kr_plugin_ctx *ctx, const char *name,
                               const char *help, const char *labels);
/* any thread, lock-free. */
void kr_counter_add(kr_counter *c, uint64_t n);
/* init thread. As kr_metrics_counter, for a gauge. */
kr_gauge *kr_metrics_gauge(kr_plugin_ctx *ctx, const char *name,
                           const char *help, const char *labels);
/* any thread, lock-free. */
void kr_gauge_set(kr_gauge *g, int64_t v);
void kr_gauge_add(kr_gauge *g, int64_t delta);

#ifdef __cplusplus
}
#endif
#endif
