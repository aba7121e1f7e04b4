/* Core, MongoDB backend: the kr_db subset, checked before anything is sent.
 *
 * MongoDB accepts far more than kr_db promises ($where, $elemMatch, $rename,
 * $slice, field names with spaces, PCRE-only regex syntax, ...). A plugin
 * must get the same KR_EINVAL from either backend, so filters, updates,
 * sorts and index keys are held to the subset of sdk/include/kirana/db.h
 * (the same rules and messages as the PostgreSQL compilers) here, and only
 * what passes is converted to BSON. Errors that depend on the stored data
 * ($inc on a string, a field inside a number) are left to the server. */
#ifndef KRC_DB_MONGO_CHECK_H
#define KRC_DB_MONGO_CHECK_H

#include <jansson.h>

/* any thread. filter: NULL or an object. 0 or KR_EINVAL naming what is
 * refused. */
int krc_mongo_check_filter(const json_t *filter);
/* any thread. 1 when update (an object) is a replacement document, 0 when
 * it is operators, or KR_EINVAL (unknown operator or modifier, bad path,
 * _id changed, two operators on overlapping paths, mixing). */
int krc_mongo_check_update(const json_t *update);
/* any thread. sort: NULL or {path: 1 | -1, ...}. */
int krc_mongo_check_sort(const json_t *sort);
/* any thread. keys: {path: 1 | -1, ...} (non-empty); name: NULL (derived
 * from the keys as MongoDB does: "a_1_b_-1") or [A-Za-z0-9_.-]{1,120}. The
 * name to use in name_out. */
int krc_mongo_check_index(const json_t *keys, const char *name, char name_out[128]);
/* any thread. $regex pattern and $options (NULL: none) limited to the
 * syntax MongoDB's PCRE and PostgreSQL's regular expressions share:
 * options i m s x, a leading (?imsx) group, (?: (?= (?! (?<= (?<! groups,
 * the escapes \d \D \s \S \w \W \b \B \A \z \Z \n \r \t \f \v \xhh and
 * backreferences; named groups, atomic groups, inline options later in
 * the pattern, possessive quantifiers, \p{..}, \Q..\E, \K and the like are
 * KR_EINVAL. */
int krc_mongo_check_regex(const char *pattern, const char *options);

#endif
