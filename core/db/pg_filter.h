/* Core, PostgreSQL backend: MongoDB filters as SQL boolean expressions.
 *
 * Pure functions: jansson in, SQL text and parameters out (core/db/pg_sql.h).
 * The supported subset and how each part is written in SQL are described at
 * the top of pg_filter.c and in core/db/README.md. */
#ifndef KRC_DB_PG_FILTER_H
#define KRC_DB_PG_FILTER_H

#include <jansson.h>

#include "core/db/pg_sql.h"

/* any thread. Appends a boolean SQL expression that is true when the jsonb
 * document `doc` (an SQL expression) matches filter (NULL or an object;
 * borrowed). `id` is the SQL expression of the row's id column, used for
 * conditions on _id, or NULL. The expression may be NULL where a match is
 * false; negate it only as NOT coalesce(e, false). 0, or KR_EINVAL naming
 * the offending operator or field, or KR_ENOMEM. */
int krc_pg_filter(krc_pg_sql *q, const json_t *filter, const char *doc, const char *id);

/* any thread. Appends a boolean SQL expression that is true when the array
 * element `elem` (an SQL jsonb expression) is to be removed by the $pull
 * condition cond: a value (equal elements), operators on the element
 * ({$gte: 5}) or a filter on subdocument fields ({order: "o1"}). Same
 * results and NULL rule as krc_pg_filter. */
int krc_pg_filter_pull(krc_pg_sql *q, const json_t *cond, const char *elem);

#endif
