/* Core: YAML files as jansson trees that remember where each node came from.
 *
 * Mappings become objects, sequences arrays. Plain scalars are typed by the
 * YAML 1.2 core schema (null, ~ and empty: null; true/false; decimal, 0o and
 * 0x integers; floats); quoted and block scalars, and scalars tagged !!str
 * or !, are always strings. Before typing, every scalar value (not keys) has
 * ${NAME} and ${NAME:-default} replaced from the environment: the default
 * applies when NAME is unset or empty, and is literal text up to the first
 * "}". $$ is a literal $, and a $ followed by anything else stays as it is.
 * What an expansion produces is never expanded again. An unset variable
 * without a default is an error naming it. In a flow collection ({...},
 * [...]) a plain scalar cannot hold "{" or "}", so a ${...} there must be
 * quoted, which makes it a string: write typed values in block style.
 *
 * Refused, each with its position: duplicate keys, non-scalar keys, anchors,
 * aliases, other tags, more than one document, NUL characters in scalars,
 * nesting deeper than 64 levels, integers outside 64 bits, infinities and
 * NaNs.
 *
 * Every error is one line "FILE:LINE:COL: message" with a 1-based line and
 * column counted in characters, as an editor shows them ("FILE: message"
 * when the file cannot be read at all). */
#ifndef KRC_CONFIG_YAML_H
#define KRC_CONFIG_YAML_H

#include <jansson.h>
#include <stddef.h>

typedef struct krc_conf_doc krc_conf_doc;

/* main. Reads and parses a whole file. Caller-owned (krc_conf_free); NULL
 * with the error in err. */
krc_conf_doc *krc_conf_load(const char *path, char *err, size_t errlen);
/* any. Parses text of len bytes; name stands for the file in positions and
 * errors. Caller-owned (krc_conf_free); NULL with the error in err. */
krc_conf_doc *krc_conf_parse(const char *name, const char *text, size_t len, char *err, size_t errlen);
/* any. The document's value (null for an empty stream); borrowed, lives as
 * long as the doc. Callers may add to it (filled-in defaults). */
json_t *krc_conf_root(const krc_conf_doc *d);
/* any. The file name errors use; borrowed, lives as long as the doc. */
const char *krc_conf_file(const krc_conf_doc *d);
/* any. Where node (an object, array, string or number of the tree) starts.
 * true, false and null are shared jansson singletons with no position of
 * their own: use krc_conf_member_pos. 0, or -1 when unknown. */
int krc_conf_pos(const krc_conf_doc *d, const json_t *node, int *line, int *col);
/* any. Where the value of parent's member `key` (object; index ignored) or
 * element `index` (array; key NULL) starts. 0, or -1 when unknown. */
int krc_conf_member_pos(const krc_conf_doc *d, const json_t *parent, const char *key, size_t index, int *line,
                        int *col);
/* any. Where the key `key` of object obj is written. 0, or -1 when unknown. */
int krc_conf_key_pos(const krc_conf_doc *d, const json_t *obj, const char *key, int *line, int *col);
/* main. Gives a node added after parsing (a filled-in default) a position,
 * so errors about it point where it would have been written. 0, or -1 when
 * out of memory. */
int krc_conf_set_pos(krc_conf_doc *d, const json_t *node, int line, int col);
/* any. Formats "FILE:LINE:COL: WHERE: message" into err: without the file
 * when d is NULL, without LINE:COL when line <= 0, without WHERE when it is
 * NULL or empty. Returns -1, for `return krc_conf_errorf(...);`. */
int krc_conf_errorf(const krc_conf_doc *d, int line, int col, const char *where, char *err, size_t errlen,
                    const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/* any. NULL is fine. */
void krc_conf_free(krc_conf_doc *d);

#endif
