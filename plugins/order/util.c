/* order.so: time, ids and list cursors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "order.h"

int64_t order_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void order_iso(int64_t ms, char out[32])
{
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

int order_random_hex(char *out, size_t nbytes)
{
    unsigned char r[64];
    if (nbytes > sizeof(r))
        return KR_EINVAL;
    size_t got = 0;
    while (got < nbytes) {
        ssize_t n = getrandom(r + got, nbytes - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return KR_EINTERNAL;
        got += (size_t)n;
    }
    for (size_t i = 0; i < nbytes; i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
    return KR_OK;
}

int order_new_id(char out[ORDER_ID_LEN + 1])
{
    /* 48 bits of ms time lasts until the year 10889; 48 random bits make a
     * clash within one millisecond negligible (and the insert would fail
     * rather than overwrite). */
    snprintf(out, 13, "%012llx", (unsigned long long)order_now_ms() & 0xffffffffffffULL);
    return order_random_hex(out + 12, 6);
}

int order_id_plausible(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        if (n >= 64 ||
            !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-'))
            return 0;
    }
    return n > 0;
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *order_cursor_encode(const char *created_at, const char *id)
{
    json_t *a = json_pack("[ss]", created_at, id);
    char *raw = a != NULL ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    if (raw == NULL)
        return NULL;
    size_t n = strlen(raw);
    char *out = malloc((n + 2) / 3 * 4 + 1);
    if (out != NULL) {
        size_t o = 0;
        const unsigned char *in = (const unsigned char *)raw;
        for (size_t i = 0; i < n; i += 3) {
            unsigned v =
                (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
            out[o++] = b64url[(v >> 18) & 63];
            out[o++] = b64url[(v >> 12) & 63];
            if (i + 1 < n)
                out[o++] = b64url[(v >> 6) & 63];
            if (i + 2 < n)
                out[o++] = b64url[v & 63];
        }
        out[o] = '\0';
    }
    free(raw);
    return out;
}

int order_cursor_decode(const char *text, char **out_created, char **out_id)
{
    *out_created = *out_id = NULL;
    size_t len = strlen(text);
    /* a cursor holds a timestamp and an id: anything longer is forged */
    if (len == 0 || len > 256 || len % 4 == 1)
        return KR_EINVAL;
    char raw[200];
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        const char *p = strchr(b64url, text[i]);
        if (p == NULL)
            return KR_EINVAL;
        acc = acc << 6 | (unsigned)(p - b64url);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            raw[o++] = (char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0)
        return KR_EINVAL;
    json_t *a = json_loadb(raw, o, JSON_REJECT_DUPLICATES, NULL);
    const char *c = json_string_value(json_array_get(a, 0));
    const char *id = json_string_value(json_array_get(a, 1));
    int ok = json_array_size(a) == 2 && c != NULL && id != NULL && strlen(c) < 40 && order_id_plausible(id);
    if (ok) {
        *out_created = strdup(c);
        *out_id = strdup(id);
    }
    json_decref(a);
    if (!ok)
        return KR_EINVAL;
    if (*out_created == NULL || *out_id == NULL) {
        free(*out_created);
        free(*out_id);
        *out_created = *out_id = NULL;
        return KR_ENOMEM;
    }
    return KR_OK;
}
