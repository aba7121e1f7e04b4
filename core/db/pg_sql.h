/* Core, PostgreSQL backend: a statement under construction, its SQL text
 * and its parameter list.
 *
 * The compilers append text and parameters here. Every value that comes
 * from a caller becomes a parameter ($n, sent as text); only names that
 * have been validated (field paths, collection and index names) become
 * text. Out-of-memory is sticky: appends after a failure are dropped and
 * krc_pg_sql_status reports it once at the end. */
#ifndef KRC_DB_PG_SQL_H
#define KRC_DB_PG_SQL_H

#include <jansson.h>
#include <stddef.h>

typedef struct krc_pg_sql {
    char *text;
    size_t len, cap;
    char **params; /* each malloc()ed, NUL-terminated */
    int nparams, pcap;
    int alias; /* last alias number handed out by krc_pg_sql_alias */
    int oom;
} krc_pg_sql;

/* any thread. An empty statement. */
void krc_pg_sql_init(krc_pg_sql *q);
/* any thread. Frees text and parameters; q can be initialised again. */
void krc_pg_sql_free(krc_pg_sql *q);
/* any thread. Appends text. */
void krc_pg_sql_add(krc_pg_sql *q, const char *s);
void krc_pg_sql_addf(krc_pg_sql *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* any thread. Adds a text parameter (copied); returns its number n ($n). */
int krc_pg_sql_param(krc_pg_sql *q, const char *value);
/* any thread. Adds a parameter holding v as compact JSON; returns n. */
int krc_pg_sql_param_json(krc_pg_sql *q, const json_t *v);
/* any thread. Adds a parameter holding a PostgreSQL array literal whose
 * elements are the compact JSON texts of the elements of the JSON array
 * `values` (cast it with ::jsonb[]); with as_text, the elements must be
 * strings and their contents are used (cast with ::text[]). Returns n. */
int krc_pg_sql_param_array(krc_pg_sql *q, const json_t *values, int as_text);
/* any thread. A fresh number for a subquery alias, unique in q. */
int krc_pg_sql_alias(krc_pg_sql *q);
/* any thread. 0, or KR_ENOMEM (message set) when an append failed. */
int krc_pg_sql_status(const krc_pg_sql *q);
/* any thread. The text so far (borrowed; "" when empty). */
const char *krc_pg_sql_text(const krc_pg_sql *q);

#endif
