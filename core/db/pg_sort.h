/* Core, PostgreSQL backend: MongoDB sort documents as ORDER BY.
 *
 * {path: 1 | -1, ...}. Values of different types order as in MongoDB
 * (missing and null < numbers < strings < objects < arrays < booleans);
 * numbers compare as numbers, strings by code point (COLLATE "C"). Ties
 * are broken by _id, so pages of a sorted find are stable. Each path
 * sorts by four expressions (type rank, number, string, jsonb); non-unique
 * kr_db indexes get a companion index on the same expressions (pg.c). */
#ifndef KRC_DB_PG_SORT_H
#define KRC_DB_PG_SORT_H

#include <jansson.h>

#include "core/db/pg_sql.h"

/* any thread. Appends " ORDER BY ..." (nothing for NULL or {}). doc and id
 * are the SQL expressions of the document and the id column. 0, KR_EINVAL
 * naming the bad key or direction, or KR_ENOMEM. */
int krc_pg_sort(krc_pg_sql *q, const json_t *sort, const char *doc, const char *id);
/* any thread. Appends a script creating index pgname on coll whose columns
 * are exactly the ORDER BY that krc_pg_sort writes for keys (a sort
 * document, borrowed) on "doc" and "id", under kirana's DDL lock, so that a
 * sorted find with a LIMIT reads that index in order instead of sorting
 * every matching row. 0, KR_EINVAL or KR_ENOMEM. */
int krc_pg_sort_index_sql(krc_pg_sql *q, const char *coll, const json_t *keys, const char *pgname);

#endif
