/* Core: field paths in filters, updates, sorts, projections and index keys.
 *
 * A path is one or more segments joined by '.'; a segment is a name
 * ([A-Za-z_][A-Za-z0-9_]*) or, to address an array element, 1-9 digits.
 * Anything else (operators, quotes, spaces, empty segments) is refused, so
 * a checked path can be written into SQL text as it is. */
#ifndef KRC_DB_PATH_H
#define KRC_DB_PATH_H

#include <stddef.h>

#define KRC_DB_PATH_MAX 255  /* bytes */
#define KRC_DB_PATH_DEPTH 32 /* segments */

/* any thread. 0, or KR_EINVAL with a message naming path and `what` (the
 * operator or call it came from). A path starting with '$' is reported as
 * an unsupported operator. */
int krc_db_path_check(const char *path, const char *what);
/* any thread. 1 if the segment [s, s+n) is all digits. */
int krc_db_path_seg_is_index(const char *s, size_t n);
/* any thread. Segment count of a checked path. */
int krc_db_path_depth(const char *path);
/* any thread. 1 if a is b or a segment-wise prefix of b ("a" of "a.b",
 * not of "ab"). */
int krc_db_path_is_prefix(const char *a, const char *b);

#endif
