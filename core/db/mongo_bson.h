/* Core, MongoDB backend: JSON <-> BSON, the one place where values change
 * form on their way to and from the server.
 *
 * JSON to BSON: objects are documents (key order kept), arrays are arrays,
 * strings are UTF-8 strings (an inner NUL is kept), integers are int32 when
 * they fit and int64 otherwise (as the MongoDB shell and drivers write
 * them), reals are doubles, true/false/null are themselves. Keys with a NUL
 * are refused (BSON keys are C strings).
 *
 * BSON to JSON: int32 and int64 are integers, doubles are reals (NaN and
 * infinities, which JSON cannot hold, become null), decimal128 is a real
 * (rounded to a double). Types JSON lacks, found in documents that other
 * tools wrote: an ObjectId is its 24 hex digits, a date is an ISO 8601 UTC
 * string with milliseconds ("2024-05-01T10:00:00.000Z"), binary data is
 * base64, a regular expression is its pattern, code and symbols are their
 * text, a timestamp is its seconds, and undefined, MinKey, MaxKey and
 * DBPointer are null. kr_db itself never writes these types. */
#ifndef KRC_DB_MONGO_BSON_H
#define KRC_DB_MONGO_BSON_H

#include <bson/bson.h>
#include <jansson.h>

/* Deepest nesting converted either way (MongoDB stores at most 100 levels
 * and refuses deeper documents itself). */
#define KRC_MONGO_BSON_DEPTH 200

/* any thread. Appends the members of obj (a JSON object; borrowed) to b,
 * which the caller initialised. 0, or KR_EINVAL (a key with NUL, too deep)
 * / KR_ETOOBIG (over BSON's size limit) with the message set; b is then
 * partly written. */
int krc_mongo_bson_append_object(bson_t *b, const json_t *obj);
/* any thread. Appends v (any JSON value; borrowed) to b under key. */
int krc_mongo_bson_append_value(bson_t *b, const char *key, const json_t *v);
/* any thread. The document b as a JSON object in *out (caller-owned). 0, or
 * KR_EINTERNAL (corrupt BSON, invalid UTF-8) / KR_ENOMEM. */
int krc_mongo_json_from_bson(const bson_t *b, json_t **out);
/* any thread. The value at it as JSON in *out (caller-owned). */
int krc_mongo_json_from_iter(const bson_iter_t *it, json_t **out);

#endif
