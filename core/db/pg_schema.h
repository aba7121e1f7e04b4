/* Core, PostgreSQL backend: what kirana creates in the database.
 *
 * - kirana_v1_* SQL functions used by update expressions (pg_update.h).
 *   The version is in the name, so processes of different kirana versions
 *   sharing a database never replace each other's functions.
 * - One table per collection: "<name>" (id text COLLATE "C" primary key,
 *   doc jsonb not null); doc holds the whole document, _id included.
 * - Indexes from kr_db_create_index, as expression indexes.
 * All DDL runs in a transaction holding one advisory lock, so processes
 * starting together do not trip over each other's CREATE ... IF NOT EXISTS.
 * The functions here only build SQL text from checked names. */
#ifndef KRC_DB_PG_SCHEMA_H
#define KRC_DB_PG_SCHEMA_H

#include <jansson.h>

#include "core/db/pg_sql.h"

/* Prefix of the helper functions' names. */
#define KRC_PG_FN "kirana_v1_"

/* The query that reports the installed helpers' version. */
#define KRC_PG_HELPERS_VERSION_SQL "SELECT " KRC_PG_FN "helpers()"

/* Every DDL script is wrapped in these: one advisory lock ("kirana" in
 * ASCII) serialises all of kirana's DDL. */
#define KRC_PG_DDL_BEGIN "BEGIN; SELECT pg_advisory_xact_lock(118074619076193); "
#define KRC_PG_DDL_END " COMMIT;"

/* SQLSTATE the helper functions raise for a bad update (KR_EINVAL). */
#define KRC_PG_SQLSTATE_INVALID "KR001"

/* any thread. Appends the script that (re)creates the helper functions,
 * ending with kirana_v1_helpers(), which returns the version below. */
void krc_pg_schema_helpers_sql(krc_pg_sql *q);
/* any thread. A hash of the helpers' text: the version a database must
 * report before they are used without being created again. */
void krc_pg_schema_helpers_version(char out[17]);
/* any thread. Writes the PostgreSQL name of index `name` of collection coll
 * into out (64 bytes): "coll.name", or "~<hash>" when that is too long for
 * an identifier. The primary key is index "_id_". */
void krc_pg_schema_index_name(const char *coll, const char *name, char out[64]);
/* any thread. Appends the script that creates the table of coll. */
void krc_pg_schema_table_sql(krc_pg_sql *q, const char *coll);
/* any thread. Appends the script that creates index keys ({path: 1 | -1})
 * of coll; name NULL derives MongoDB's name ("a_1_b_-1"), written to
 * name_out (128 bytes). 0, or KR_EINVAL naming the bad key or name. */
int krc_pg_schema_index_sql(krc_pg_sql *q, const char *coll, const json_t *keys, int unique, const char *name,
                            char name_out[128]);

#endif
