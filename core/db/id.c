#include "core/db/id.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/util/err.h"

int krc_db_id_new(char out[25])
{
    unsigned char r[8];
    size_t got = 0;
    while (got < sizeof(r)) {
        ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return krc_err_set(KR_EINTERNAL, "getrandom: %s", strerror(errno));
        got += (size_t)n;
    }
    uint32_t t = (uint32_t)time(NULL);
    snprintf(out, 25, "%08x%02x%02x%02x%02x%02x%02x%02x%02x", t, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
    return 0;
}
