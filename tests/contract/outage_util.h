/* Small helpers the outage tests and their server controls share. Main
 * thread (kt_now_ms: any thread). */
#ifndef KIRANA_TEST_OUTAGE_UTIL_H
#define KIRANA_TEST_OUTAGE_UTIL_H

#include <stdint.h>

/* Monotonic milliseconds. */
int64_t kt_now_ms(void);
/* Runs a shell command built from fmt; system()'s result. */
int kt_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
