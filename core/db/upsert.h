/* Core: the document an upsert starts from. */
#ifndef KRC_DB_UPSERT_H
#define KRC_DB_UPSERT_H

#include <jansson.h>

/* any thread. As MongoDB does, the equality conditions of filter (NULL or
 * an object; borrowed) -- {path: value}, {path: {$eq: value}}, and those
 * inside $and -- set at their paths (dotted paths nest); the update then
 * applies to this document. *out caller-owned ({} when there are none).
 * 0, KR_EINVAL when two conditions set overlapping paths, KR_ENOMEM. */
int krc_db_upsert_base(const json_t *filter, json_t **out);

#endif
