/* Core, PostgreSQL backend: MongoDB update documents as SQL jsonb
 * expressions.
 *
 * Operators: $set $unset $inc $push (+ $each) $pull $addToSet (+ $each)
 * $setOnInsert; dotted paths create missing intermediate objects (and pad
 * arrays with nulls up to a numeric index), as in MongoDB. _id is
 * immutable; two operators on the same path, or on a path and its prefix,
 * are KR_EINVAL. The expression uses the kirana_v1_* SQL functions of
 * core/db/pg_schema.h. */
#ifndef KRC_DB_PG_UPDATE_H
#define KRC_DB_PG_UPDATE_H

#include <jansson.h>

#include "core/db/pg_sql.h"

/* any thread. 1 when update (an object) is a replacement document (no key
 * starts with '$'), 0 when every key is an operator, KR_EINVAL (message
 * set) when it mixes both. */
int krc_pg_update_is_replacement(const json_t *update);

/* any thread. Appends an SQL jsonb expression: the document src (an SQL
 * jsonb expression) with the operators of update (borrowed) applied. With
 * inserting, $setOnInsert applies as $set (except its _id, which the
 * caller uses as the new id); otherwise it is skipped. 0, KR_EINVAL naming
 * the operator or path, or KR_ENOMEM. */
int krc_pg_update(krc_pg_sql *q, const json_t *update, const char *src, int inserting);

/* any thread. Appends an SQL jsonb expression: the replacement document doc
 * (borrowed) for the existing document src, keeping src's _id. A different
 * _id in doc fails the statement (KR_EINVAL when it runs). */
int krc_pg_update_replace(krc_pg_sql *q, const json_t *doc, const char *src);

#endif
