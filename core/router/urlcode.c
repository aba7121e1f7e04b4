#include "core/router/urlcode.h"

#include <stdbool.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static size_t decode(char *dst, const char *src, size_t len, bool plus_is_space)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '%') {
            if (len - i < 3)
                return (size_t)-1;
            int hi = hexval(src[i + 1]), lo = hexval(src[i + 2]);
            if (hi < 0 || lo < 0 || (hi | lo) == 0)
                return (size_t)-1;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        } else if (c == '\0') {
            return (size_t)-1;
        }
        dst[o++] = c;
    }
    dst[o] = '\0';
    return o;
}

size_t krc_url_decode(char *dst, const char *src, size_t len)
{
    return decode(dst, src, len, false);
}

size_t krc_url_decode_query(char *dst, const char *src, size_t len)
{
    return decode(dst, src, len, true);
}
