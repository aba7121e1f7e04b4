/* Core, PostgreSQL backend: checked field paths (core/db/path.h) written as
 * SQL. Paths have been checked, so they need no escaping here. */
#ifndef KRC_DB_PG_PATH_H
#define KRC_DB_PG_PATH_H

#include "core/db/pg_sql.h"

/* any thread. 1 if path is a single name (not an array index). */
int krc_pg_path_is_top(const char *path);
/* any thread. Appends '$."a"."b"[0]<suffix>'::jsonpath (lax mode, so
 * arrays met on the way are looked through). path "" is the value itself:
 * '$<suffix>'. The first segment is always a member name. */
void krc_pg_path_jsonpath(krc_pg_sql *q, const char *path, const char *suffix);
/* any thread. Appends '{a,b,0}'::text[]. */
void krc_pg_path_array(krc_pg_sql *q, const char *path);
/* any thread. Appends the jsonb at path in doc (SQL NULL when missing):
 * (doc->'a') for a top-level name, the form expression indexes use. */
void krc_pg_path_get(krc_pg_sql *q, const char *doc, const char *path);

#endif
