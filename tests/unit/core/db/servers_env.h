/* Unit tests of the PostgreSQL backend that talk to the `servers` fixture:
 * reading its env file (KEY=VALUE lines, tests/servers/servers.sh). */
#ifndef KIRANA_TEST_DB_SERVERS_ENV_H
#define KIRANA_TEST_DB_SERVERS_ENV_H

#include <stdio.h>
#include <string.h>

/* KEY's value from the KEY=VALUE file into out (len bytes); 0, or -1 when
 * the file or key is missing or the value does not fit. */
static inline int kt_servers_env_get(const char *file, const char *key, char *out, size_t len)
{
    FILE *f = fopen(file, "r");
    char line[1024];
    size_t klen = strlen(key);
    int rc = -1;
    while (f != NULL && rc != 0 && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, key, klen) != 0 || line[klen] != '=')
            continue;
        line[strcspn(line, "\r\n")] = '\0';
        size_t n = strlen(line + klen + 1);
        if (n < len) {
            memcpy(out, line + klen + 1, n + 1);
            rc = 0;
        }
    }
    if (f != NULL)
        fclose(f);
    return rc;
}

#endif
