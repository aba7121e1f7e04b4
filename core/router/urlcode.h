/* Core: percent-decoding of URL parts.
 *
 * Paths and query strings differ in one way: only in a query string
 * (application/x-www-form-urlencoded) does '+' stand for a space. A NUL byte,
 * raw or as %00, is refused like a bad escape, because every consumer uses
 * the result as a C string and a hidden NUL would cut it short. */
#ifndef KRC_ROUTER_URLCODE_H
#define KRC_ROUTER_URLCODE_H

#include <stddef.h>

/* any thread. Decodes src[0..len) of a path into dst, which has room for
 * len + 1 bytes and may be src itself; the result is NUL-terminated and
 * '+' is kept. Returns the decoded length, or (size_t)-1 on a bad escape
 * (dst then holds garbage). */
size_t krc_url_decode(char *dst, const char *src, size_t len);
/* any thread. As krc_url_decode for a query-string name or value: '+' is a
 * space. */
size_t krc_url_decode_query(char *dst, const char *src, size_t len);

#endif
