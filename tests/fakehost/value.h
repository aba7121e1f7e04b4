/* Fake host: MongoDB's view of JSON values, shared by the matcher, the
 * updater, sort, projection and unique indexes. */
#ifndef KRF_VALUE_H
#define KRF_VALUE_H

#include <stddef.h>
#include <jansson.h>

/* Type brackets in sort order: null (and missing) < numbers < strings <
 * objects < arrays < booleans. */
enum { KRF_RANK_NULL = 1, KRF_RANK_NUMBER, KRF_RANK_STRING, KRF_RANK_OBJECT, KRF_RANK_ARRAY, KRF_RANK_BOOL };

/* any. Bracket of v; NULL (a missing field) ranks as null. */
int krf_rank(const json_t *v);
/* any. Total order (<0, 0, >0): by bracket, then numerically for numbers
 * (integer and real alike), bytewise for strings, key by key (keys sorted)
 * for objects, element by element for arrays. NULL counts as null. */
int krf_compare(const json_t *a, const json_t *b);

/* The values a dotted path reaches in a document, MongoDB style: through
 * arrays, into every element that is an object (and to the element itself
 * for a numeric component). An entry is NULL where the path ends at a
 * missing field; a path that reaches nothing yields one NULL. Borrowed from
 * the document. */
typedef struct krf_leaves {
    const json_t **v;
    size_t n, cap;
} krf_leaves;

/* any. Fills out (initialise it to {0}); returns 0, or -1 when the path is
 * empty or has an empty component. */
int krf_leaves_get(const json_t *doc, const char *path, krf_leaves *out);
/* any. */
void krf_leaves_free(krf_leaves *l);
/* any. 1 when path is usable as a field path: non-empty components. */
int krf_path_ok(const char *path);
/* any. 1 when v is an object whose first key starts with '$' ({$gt: 1}),
 * which MongoDB reads as operators rather than as a literal document. */
int krf_is_operators(const json_t *v);
/* any. Parses a component as an array index (digits only); 1 on success. */
int krf_index(const char *s, size_t n, size_t *idx);

#endif
