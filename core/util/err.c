#include "core/util/err.h"

#include <stdarg.h>
#include <stdio.h>

static __thread char errbuf[512];

int krc_err_set(int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
    va_end(ap);
    return err;
}

const char *krc_err_msg(void) { return errbuf; }

void krc_err_clear(void) { errbuf[0] = '\0'; }
