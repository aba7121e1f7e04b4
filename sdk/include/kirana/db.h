/* kirana SDK: the document store (one API, MongoDB semantics, over MongoDB
 * or PostgreSQL as `db.uri` says).
 *
 * Documents are JSON objects with a string `_id`. Filters and updates are
 * MongoDB query JSON, restricted to this subset (anything else is refused
 * with KR_EINVAL naming the operator, never ignored):
 *
 *   filter:  {field: value} (equality), $eq $ne $gt $gte $lt $lte $in $nin
 *            $exists $and $or $nor $regex (+ $options "i"); dotted paths reach
 *            into subdocuments, and a path through an array matches when any
 *            element matches ($ne and $nin: when none does), as in MongoDB.
 *   update:  $set $unset $inc $push $pull $addToSet $setOnInsert; $pull takes
 *            a value or a condition on subdocument fields ({order: "o1"}).
 *            A document without operators is a replacement.
 *   sort:    {field: 1 | -1, ...}; projection: {field: 1, ...} or
 *            {field: 0, ...} (_id always included unless {_id: 0}).
 *
 * Numbers compare as numbers whether integer or real. Every call blocks: call
 * from worker-pool or job threads only, never from an event-loop thread.
 * Timeouts come from `db.timeout_ms`; an unreachable or timed-out server is
 * KR_EUNAVAILABLE. Results marked caller-owned are json_t references the
 * caller must json_decref.
 */
#ifndef KIRANA_DB_H
#define KIRANA_DB_H

#include <stdint.h>
#include <jansson.h>

#include "kirana/error.h"
#include "kirana/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kr_coll kr_coll;

/* flags */
#define KR_DB_UPSERT 0x1       /* insert when nothing matches */
#define KR_DB_RETURN_AFTER 0x2 /* find_one_and_update: return the new doc */
#define KR_DB_UNIQUE 0x4       /* create_index: unique */

typedef struct kr_update_result {
    int64_t matched;
    int64_t modified;
    char *upserted_id; /* caller-owned (free()), NULL unless upserted */
} kr_update_result;

/* any thread. Collection handle: name matches [A-Za-z][A-Za-z0-9_]{0,62}.
 * Borrowed; lives as long as the process. NULL (KR_EINVAL) on a bad name.
 * The collection is created on first use. */
kr_coll *kr_db_coll(kr_db *db, const char *name);

/* worker. Matching documents as a JSON array (*out caller-owned). sort and
 * projection may be NULL; limit 0 means no limit. */
int kr_db_find(kr_coll *c, const json_t *filter, const json_t *sort,
               const json_t *projection, int64_t skip, int64_t limit,
               json_t **out);
/* worker. First match (after sort) in *out (caller-owned), or KR_ENOTFOUND
 * with *out NULL. */
int kr_db_find_one(kr_coll *c, const json_t *filter, const json_t *sort,
                   const json_t *projection, json_t **out);
/* worker. Inserts doc (borrowed, not modified). Without `_id` a random one
 * is generated. *id_out (may be NULL) is caller-owned (free()).
 * KR_EDUPLICATE on a unique index or _id clash. */
int kr_db_insert_one(kr_coll *c, const json_t *doc, char **id_out);
/* worker. res may be NULL. */
int kr_db_update_one(kr_coll *c, const json_t *filter, const json_t *update,
                     unsigned flags, kr_update_result *res);
int kr_db_update_many(kr_coll *c, const json_t *filter, const json_t *update,
                      unsigned flags, kr_update_result *res);
/* worker. Atomic for one document: the first match (after sort, may be NULL)
 * is updated and returned in *out (before, or after with
 * KR_DB_RETURN_AFTER; caller-owned). KR_ENOTFOUND when nothing matched and
 * no upsert happened (with KR_DB_UPSERT and without RETURN_AFTER, *out is
 * NULL after an insert). */
int kr_db_find_one_and_update(kr_coll *c, const json_t *filter,
                              const json_t *update, const json_t *sort,
                              unsigned flags, json_t **out);
/* worker. *deleted may be NULL. */
int kr_db_delete_one(kr_coll *c, const json_t *filter, int64_t *deleted);
int kr_db_delete_many(kr_coll *c, const json_t *filter, int64_t *deleted);
/* worker. */
int kr_db_count(kr_coll *c, const json_t *filter, int64_t *n);
/* init or worker. keys: {field: 1 | -1, ...}; idempotent for the same name.
 * name may be NULL (derived from the keys). */
int kr_db_create_index(kr_coll *c, const json_t *keys, unsigned flags,
                       const char *name);

#ifdef __cplusplus
}
#endif
#endif
