/* Contract tests of kr_db: shared setup.
 *
 * The database under test is KIRANA_TEST_DB_URI when set; otherwise a fresh
 * PostgreSQL database kt_<random> is made on the servers fixture's server
 * (KIRANA_TEST_PG_URI in the file KIRANA_TEST_SERVERS_ENV names) and
 * dropped at the end. Tests see the store only through the kr_db_* SDK
 * functions and a host table filled by the core. */
#ifndef KIRANA_TEST_CONTRACT_H
#define KIRANA_TEST_CONTRACT_H

#include <stddef.h>

#include "kirana/host.h"
#include "kirana/kirana.h"

/* Reads KEY from a KEY=VALUE file into out; 0, or -1 when absent. */
int kt_env_file_get(const char *file, const char *key, char *out, size_t outlen);
/* The URI to test: KIRANA_TEST_DB_URI, or a database created on the
 * fixture's PostgreSQL (remembered for kt_drop_database). 0 or -1 with a
 * reason on stderr. */
int kt_database_uri(char *out, size_t outlen);
/* Drops the database kt_database_uri created, if it created one. */
void kt_drop_database(void);
/* PostgreSQL URI with its database name replaced by dbname. */
void kt_uri_with_db(const char *uri, const char *dbname, char *out, size_t outlen);
/* The host table the tests hand to the core. */
const kr_host *kt_host(void);

#endif
