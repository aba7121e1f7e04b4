/* Core, PostgreSQL backend: MongoDB sort documents as ORDER BY.
 *
 * {path: 1 | -1, ...}. Values of different types order as in MongoDB
 * (missing and null < numbers < strings < objects < arrays < booleans);
 * numbers compare as numbers, strings by code point (COLLATE "C"). Ties
 * are broken by _id, so pages of a sorted find are stable. */
#ifndef KRC_DB_PG_SORT_H
#define KRC_DB_PG_SORT_H

#include <jansson.h>

#include "core/db/pg_sql.h"

/* any thread. Appends " ORDER BY ..." (nothing for NULL or {}). doc and id
 * are the SQL expressions of the document and the id column. 0, KR_EINVAL
 * naming the bad key or direction, or KR_ENOMEM. */
int krc_pg_sort(krc_pg_sql *q, const json_t *sort, const char *doc, const char *id);

#endif
