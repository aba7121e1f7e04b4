/* Core: parsing request bodies as JSON with the limits an API needs. */
#ifndef KRC_SERVER_JSON_H
#define KRC_SERVER_JSON_H

#include <jansson.h>
#include <stddef.h>

/* any. Parses buf as one JSON object nested at most max_depth deep (checked
 * before parsing, so a hostile body costs one linear scan). Rejects
 * duplicate keys and NUL in strings. *out caller-owned. 0, or -1 with a
 * reason for the client in err. */
int krc_json_parse_object(const char *buf, size_t len, int max_depth, json_t **out, char *err, size_t errlen);

#endif
