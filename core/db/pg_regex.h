/* Core, PostgreSQL backend: MongoDB $regex patterns (PCRE) as PostgreSQL
 * advanced regular expressions.
 *
 * The common syntax is the same in both. What differs is handled so that a
 * pattern means what it would in MongoDB or fails loudly:
 *   - $options i, m, s, x (and a leading (?imsx) group) become ARE embedded
 *     options; by default '.' does not match a newline and ^/$ anchor at the
 *     ends of the string, as in PCRE (ARE option p, or n/w/s for m and s);
 *   - \b and \B (word boundaries in PCRE, a backspace in ARE) become \y and
 *     \Y outside bracket expressions, and \z becomes \Z;
 *   - PCRE-only syntax (named groups, possessive quantifiers, \p{..}, \Q..\E,
 *     inline options after the start) is left alone: PostgreSQL rejects it,
 *     and the caller gets KR_EINVAL when the pattern is first evaluated.
 * Other options (u, and anything unknown) are KR_EINVAL. */
#ifndef KRC_DB_PG_REGEX_H
#define KRC_DB_PG_REGEX_H

/* any thread. *out: the ARE text (caller-owned, free()). 0, or KR_EINVAL /
 * KR_ENOMEM with the message set. options may be NULL. */
int krc_pg_regex(const char *pattern, const char *options, char **out);

#endif
