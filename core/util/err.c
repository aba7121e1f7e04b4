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
    /* Messages often quote what a caller passed in (field names, operators,
     * keys); keep them one line whatever those hold. */
    krc_err_one_line(errbuf);
    return err;
}

void krc_err_one_line(char *msg)
{
    for (char *p = msg; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

const char *krc_err_msg(void) { return errbuf; }

void krc_err_clear(void) { errbuf[0] = '\0'; }
