/* Test helper: where tests/fixtures/config is. ctest sets KIRANA_SOURCE_DIR;
 * run by hand, the tree is found from this file's own path. */
#ifndef KRC_TEST_CONFIG_FIXTURES_H
#define KRC_TEST_CONFIG_FIXTURES_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* any. Absolute path of tests/fixtures/config joined with rel; a static
 * buffer, overwritten by the next call. */
static inline const char *fixture_path(const char *rel)
{
    static char buf[PATH_MAX];
    const char *src = getenv("KIRANA_SOURCE_DIR");
    if (src != NULL && *src != '\0') {
        snprintf(buf, sizeof(buf), "%s/tests/fixtures/config/%s", src, rel);
    } else {
        const char *here = __FILE__;
        const char *tail = strstr(here, "/tests/unit/core/config/");
        int n = tail != NULL ? (int)(tail - here) : 0;
        snprintf(buf, sizeof(buf), "%.*s/tests/fixtures/config/%s", n, here, rel);
    }
    return buf;
}

#endif
