/* Core: MongoDB projections, applied to documents after they are read.
 *
 * {path: 1, ...} keeps those paths (and _id unless {_id: 0}); {path: 0, ...}
 * drops them. A path through an array applies to each element that is a
 * document or array; an inclusion drops the other elements, as MongoDB
 * does. Mixing 1 and 0 (except for _id), overlapping paths (a and a.b) and
 * any other value ($slice, $elemMatch, strings) are KR_EINVAL. */
#ifndef KRC_DB_PROJECTION_H
#define KRC_DB_PROJECTION_H

#include <jansson.h>

typedef struct krc_db_projection krc_db_projection;

/* any thread. Checks spec (NULL or an object; borrowed). *out is
 * caller-owned (krc_db_projection_free), or NULL when spec changes nothing
 * (NULL or {}). 0, or KR_EINVAL / KR_ENOMEM with the message set. */
int krc_db_projection_compile(const json_t *spec, krc_db_projection **out);
/* any thread. doc (an object, borrowed) projected: a new reference
 * (caller-owned), NULL on ENOMEM. p NULL returns doc itself, increfed. */
json_t *krc_db_projection_apply(const krc_db_projection *p, const json_t *doc);
/* any thread. What a backend may cut from documents before reading them,
 * top-level names only (borrowed from p, at most max of them into names):
 * returns 1 when the projected document holds nothing but the names (the
 * kept paths' first segments, and _id when kept), 0 when it holds
 * everything but the names (the top-level paths dropped whole), -1 when
 * there are more than max names (cut nothing). p must not be NULL. The
 * cut document still goes through krc_db_projection_apply, which gives the
 * same answer from it as from the whole document -- unless *done is set
 * to 1: then the projection is nothing but those top-level drops, and the
 * cut document is the answer as it is. */
int krc_db_projection_top(const krc_db_projection *p, const char **names, size_t max, size_t *n, int *done);
/* any thread. NULL is fine. */
void krc_db_projection_free(krc_db_projection *p);

#endif
