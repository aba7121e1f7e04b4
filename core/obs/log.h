/* Core: JSON log lines.
 *
 * One line per event, written with a single write(2) so lines from many
 * threads never interleave. A full disk or closed log file loses lines,
 * never the process. */
#ifndef KRC_OBS_LOG_H
#define KRC_OBS_LOG_H

#include <stdarg.h>
#include <stdint.h>

#include "kirana/log.h"

/* main thread. path NULL or "-": stderr. Returns 0 or -1 with err. */
int krc_log_open(const char *path, kr_level min_level, char *err, size_t errlen);
/* main thread (SIGHUP handling). Reopens the same path (log rotation). */
void krc_log_reopen(void);
/* main thread, at exit. */
void krc_log_close(void);
/* any thread. Whether a line of this level would be written. */
int krc_log_enabled(kr_level level);
/* any thread. {"ts","level","plugin"?,"req"?,"msg"} */
void krc_log(kr_level level, const char *plugin, const char *req_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void krc_logv(kr_level level, const char *plugin, const char *req_id, const char *fmt, va_list ap);

/* One finished request for the access log. Strings borrowed. */
typedef struct krc_access {
    const char *req_id;
    const char *method;
    const char *path; /* without the query string */
    const char *route; /* matched pattern or NULL */
    const char *proto; /* "HTTP/1.1", "HTTP/2" */
    const char *client_ip;
    int status;
    uint64_t bytes_out;
    double dur_ms;
} krc_access;
/* any thread. {"ts","level":"info","type":"access",...}; off when
 * access logging is disabled. */
void krc_log_access(const krc_access *a);
/* main thread. */
void krc_log_set_access(int enabled);
/* any thread. Lines lost so far (write failed or short, or out of memory). */
uint64_t krc_log_dropped(void);

#endif
