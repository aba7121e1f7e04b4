/* Core: query strings.
 *
 * Parses `a=1&b=x+y&c` into decoded name/value pairs without allocating: the
 * caller supplies the pair array and a byte buffer (typically from the
 * request arena), and the strings are written into that buffer. */
#ifndef KRC_ROUTER_QUERY_H
#define KRC_ROUTER_QUERY_H

#include <stddef.h>

typedef struct krc_query_pair {
    const char *name;  /* NUL-terminated, in the caller's buf */
    const char *value; /* "" for `name` without '=' */
} krc_query_pair;

/* any thread. Splits qs[0..len) (without the leading '?') on '&', skips
 * empty pieces, cuts each at its first '=' and decodes both halves ('+' is
 * a space). buflen >= 2 * len + 2 is always enough. Returns the number of
 * pairs, in order; or KR_EINVAL for a bad escape or more than max pairs,
 * KR_ETOOBIG when buf is too small, with the reason in krc_err_msg. */
int krc_query_parse(const char *qs, size_t len, krc_query_pair *pairs, size_t max, char *buf, size_t buflen);

/* any thread. Value of the first pair called name, or NULL; borrowed from
 * the buffer given to krc_query_parse. */
const char *krc_query_get(const krc_query_pair *pairs, size_t n, const char *name);

#endif
