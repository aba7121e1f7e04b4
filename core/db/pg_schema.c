#include "core/db/pg_schema.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/db/path.h"
#include "core/db/pg_path.h"
#include "core/util/err.h"

#define DDL_BEGIN KRC_PG_DDL_BEGIN
#define DDL_END KRC_PG_DDL_END

/* The update helpers. They raise KRC_PG_SQLSTATE_INVALID for updates that
 * MongoDB refuses (a field inside a scalar, $inc on a string, ...). They
 * are VOLATILE (the default) on purpose: the planner must never fold a
 * call with constant arguments, as that would raise while planning a
 * branch that does not run. */
static const char helpers[] = DDL_BEGIN
    "CREATE OR REPLACE FUNCTION " KRC_PG_FN "fail(msg text) RETURNS jsonb LANGUAGE plpgsql AS $kr$\n"
    "BEGIN\n"
    "  RAISE EXCEPTION USING ERRCODE = '" KRC_PG_SQLSTATE_INVALID "', MESSAGE = msg;\n"
    "END $kr$;\n"

    /* d with the value at path p set to v, creating objects on the way and
     * padding arrays with nulls up to a numeric index (by 10000 at most, so
     * a stray index cannot make a huge document). */
    "CREATE OR REPLACE FUNCTION " KRC_PG_FN "set(d jsonb, p text[], v jsonb) RETURNS jsonb LANGUAGE plpgsql AS $kr$\n"
    "DECLARE\n"
    "  k text := p[1];\n"
    "  cur jsonb;\n"
    "  n int;\n"
    "BEGIN\n"
    "  IF cardinality(p) = 0 THEN RETURN v; END IF;\n"
    "  IF jsonb_typeof(d) = 'object' THEN\n"
    "    cur := d -> k;\n"
    "    IF cur IS NULL AND cardinality(p) > 1 THEN cur := '{}'; END IF;\n"
    "  ELSIF jsonb_typeof(d) = 'array' AND k ~ '^[0-9]{1,9}$' THEN\n"
    "    n := jsonb_array_length(d);\n"
    "    IF k::int - n >= 10000 THEN\n"
    "      RETURN " KRC_PG_FN "fail(format('array index %s is too far past the end (%s elements)', k, n));\n"
    "    END IF;\n"
    "    IF k::int >= n THEN\n"
    "      d := d || (SELECT jsonb_agg('null'::jsonb) FROM generate_series(n, k::int));\n"
    "    END IF;\n"
    "    cur := d -> k::int;\n"
    "    IF jsonb_typeof(cur) = 'null' AND cardinality(p) > 1 THEN cur := '{}'; END IF;\n"
    "  ELSE\n"
    "    RETURN " KRC_PG_FN "fail(format('cannot create field %s inside a %s value', k, jsonb_typeof(d)));\n"
    "  END IF;\n"
    "  RETURN jsonb_set(d, ARRAY[k], " KRC_PG_FN "set(cur, p[2:], v));\n"
    "END $kr$;\n"

    /* d without the value at path p; an array element becomes null, as in
     * MongoDB; a missing path is no change. */
    "CREATE OR REPLACE FUNCTION " KRC_PG_FN "unset(d jsonb, p text[]) RETURNS jsonb LANGUAGE plpgsql AS $kr$\n"
    "DECLARE\n"
    "  k text := p[1];\n"
    "  cur jsonb;\n"
    "BEGIN\n"
    "  IF jsonb_typeof(d) = 'object' THEN\n"
    "    IF cardinality(p) = 1 THEN RETURN d - k; END IF;\n"
    "    cur := d -> k;\n"
    "  ELSIF jsonb_typeof(d) = 'array' AND k ~ '^[0-9]{1,9}$' THEN\n"
    "    IF k::int >= jsonb_array_length(d) THEN RETURN d; END IF;\n"
    "    IF cardinality(p) = 1 THEN RETURN jsonb_set(d, ARRAY[k], 'null'); END IF;\n"
    "    cur := d -> k::int;\n"
    "  END IF;\n"
    "  IF cur IS NULL THEN RETURN d; END IF;\n"
    "  RETURN jsonb_set(d, ARRAY[k], " KRC_PG_FN "unset(cur, p[2:]));\n"
    "END $kr$;\n"

    /* Integers add exactly; with a real on either side the sum is the IEEE
     * double MongoDB would compute, kept real (3.0, not 3). */
    "CREATE OR REPLACE FUNCTION " KRC_PG_FN "inc(d jsonb, p text[], n jsonb) RETURNS jsonb LANGUAGE plpgsql AS $kr$\n"
    "DECLARE\n"
    "  cur jsonb := d #> p;\n"
    "  r numeric;\n"
    "BEGIN\n"
    "  IF cur IS NULL THEN RETURN " KRC_PG_FN "set(d, p, n); END IF;\n"
    "  IF jsonb_typeof(cur) <> 'number' THEN\n"
    "    RETURN " KRC_PG_FN "fail(format('cannot apply $inc to the %s value at %s', jsonb_typeof(cur),\n"
    "                                     array_to_string(p, '.')));\n"
    "  END IF;\n"
    "  IF scale(cur::numeric) = 0 AND scale(n::numeric) = 0 THEN\n"
    "    r := cur::numeric + n::numeric;\n"
    "  ELSE\n"
    "    r := ((cur::float8 + n::float8)::text)::numeric;\n"
    "    IF scale(r) = 0 THEN r := r + 0.0; END IF;\n"
    "  END IF;\n"
    "  RETURN " KRC_PG_FN "set(d, p, to_jsonb(r));\n"
    "END $kr$;\n"

    "CREATE OR REPLACE FUNCTION " KRC_PG_FN
    "push(d jsonb, p text[], vals jsonb) RETURNS jsonb LANGUAGE plpgsql AS $kr$\n"
    "DECLARE\n"
    "  cur jsonb := d #> p;\n"
    "BEGIN\n"
    "  IF cur IS NULL THEN RETURN " KRC_PG_FN "set(d, p, vals); END IF;\n"
    "  IF jsonb_typeof(cur) <> 'array' THEN\n"
    "    RETURN " KRC_PG_FN "fail(format('cannot apply $push to the %s value at %s', jsonb_typeof(cur),\n"
    "                                     array_to_string(p, '.')));\n"
    "  END IF;\n"
    "  RETURN jsonb_set(d, p, cur || vals);\n"
    "END $kr$;\n"

    "CREATE OR REPLACE FUNCTION " KRC_PG_FN "add_to_set(d jsonb, p text[], vals jsonb) RETURNS jsonb LANGUAGE plpgsql "
    "AS $kr$\n"
    "DECLARE\n"
    "  cur jsonb := coalesce(d #> p, '[]');\n"
    "  v jsonb;\n"
    "BEGIN\n"
    "  IF jsonb_typeof(cur) <> 'array' THEN\n"
    "    RETURN " KRC_PG_FN "fail(format('cannot apply $addToSet to the %s value at %s', jsonb_typeof(cur),\n"
    "                                     array_to_string(p, '.')));\n"
    "  END IF;\n"
    "  FOR v IN SELECT value FROM jsonb_array_elements(vals) LOOP\n"
    "    IF NOT EXISTS (SELECT 1 FROM jsonb_array_elements(cur) AS e(x) WHERE e.x = v) THEN\n"
    "      cur := cur || jsonb_build_array(v);\n"
    "    END IF;\n"
    "  END LOOP;\n"
    "  RETURN " KRC_PG_FN "set(d, p, cur);\n"
    "END $kr$;\n"

    /* kept: the elements that survive, computed by the caller's SQL from
     * the compiled condition. */
    "CREATE OR REPLACE FUNCTION " KRC_PG_FN
    "pull(d jsonb, p text[], kept jsonb) RETURNS jsonb LANGUAGE plpgsql AS $kr$\n"
    "DECLARE\n"
    "  cur jsonb := d #> p;\n"
    "BEGIN\n"
    "  IF cur IS NULL THEN RETURN d; END IF;\n"
    "  IF jsonb_typeof(cur) <> 'array' THEN\n"
    "    RETURN " KRC_PG_FN "fail(format('cannot apply $pull to the %s value at %s', jsonb_typeof(cur),\n"
    "                                     array_to_string(p, '.')));\n"
    "  END IF;\n"
    "  RETURN jsonb_set(d, p, kept);\n"
    "END $kr$;\n";

static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

void krc_pg_schema_helpers_version(char out[17])
{
    snprintf(out, 17, "%016" PRIx64, fnv1a(0xcbf29ce484222325ULL, helpers, sizeof(helpers) - 1));
}

void krc_pg_schema_helpers_sql(krc_pg_sql *q)
{
    char version[17];
    krc_pg_schema_helpers_version(version);
    krc_pg_sql_add(q, helpers);
    krc_pg_sql_addf(q,
                    "CREATE OR REPLACE FUNCTION " KRC_PG_FN "helpers() RETURNS text LANGUAGE sql AS "
                    "$kr$SELECT '%s'::text$kr$;" DDL_END,
                    version);
}

void krc_pg_schema_index_name(const char *coll, const char *name, char out[64])
{
    /* Collection names have no '.', so "coll.name" is unambiguous. */
    size_t a = strlen(coll), b = strlen(name);
    if (a + 1 + b <= 63) {
        memcpy(out, coll, a);
        out[a] = '.';
        memcpy(out + a + 1, name, b + 1);
        return;
    }
    uint64_t h = fnv1a(0xcbf29ce484222325ULL, coll, strlen(coll) + 1);
    h = fnv1a(h, name, strlen(name));
    snprintf(out, 64, "~%016" PRIx64, h);
}

void krc_pg_schema_table_sql(krc_pg_sql *q, const char *coll)
{
    char pk[64];
    krc_pg_schema_index_name(coll, "_id_", pk);
    krc_pg_sql_addf(q,
                    DDL_BEGIN "CREATE TABLE IF NOT EXISTS \"%s\" (id text COLLATE \"C\" NOT NULL, doc jsonb NOT NULL, "
                              "CONSTRAINT \"%s\" PRIMARY KEY (id));" DDL_END,
                    coll, pk);
}

static int index_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 120)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-'))
            return 0;
    }
    return 1;
}

int krc_pg_schema_index_sql(krc_pg_sql *q, const char *coll, const json_t *keys, int unique, const char *name,
                            char name_out[128])
{
    char derived[128] = "";
    const char *path;
    const json_t *v;
    json_object_foreach((json_t *)keys, path, v)
    {
        int rc = krc_db_path_check(path, "kr_db_create_index");
        if (rc != 0)
            return rc;
        if (!json_is_number(v) || (json_number_value(v) != 1 && json_number_value(v) != -1))
            return krc_err_set(KR_EINVAL, "kr_db_create_index: the direction of %s must be 1 or -1", path);
        size_t len = strlen(derived);
        snprintf(derived + len, sizeof(derived) - len, "%s%s_%d", len ? "_" : "", path, (int)json_number_value(v));
    }
    if (name == NULL && strlen(derived) > 120)
        return krc_err_set(KR_EINVAL, "kr_db_create_index: too many keys for a derived name; pass a name");
    if (name != NULL && !index_name_ok(name))
        return krc_err_set(KR_EINVAL, "kr_db_create_index: bad index name \"%.64s\" (expected [A-Za-z0-9_.-]{1,120})",
                           name);
    snprintf(name_out, 128, "%s", name != NULL ? name : derived);

    char pgname[64];
    krc_pg_schema_index_name(coll, name_out, pgname);
    krc_pg_sql_addf(q, DDL_BEGIN "CREATE %sINDEX IF NOT EXISTS \"%s\" ON \"%s\" (", unique ? "UNIQUE " : "", pgname,
                    coll);
    const char *first = NULL;
    json_object_foreach((json_t *)keys, path, v)
    {
        if (first != NULL)
            krc_pg_sql_add(q, ", ");
        else
            first = path;
        if (strcmp(path, "_id") == 0)
            krc_pg_sql_add(q, "id");
        else
            krc_pg_path_get(q, "doc", path);
        krc_pg_sql_add(q, json_number_value(v) < 0 ? " DESC" : "");
    }
    krc_pg_sql_add(q, ");");
    if (krc_pg_path_is_top(first) && strcmp(first, "_id") != 0) {
        /* Lets equality on the first key use indexes for both arms of its
         * "equal, or an array holding it" test (pg_filter.c). */
        char arrname[160], arrpg[64];
        snprintf(arrname, sizeof(arrname), "%s~arr", name_out);
        krc_pg_schema_index_name(coll, arrname, arrpg);
        krc_pg_sql_addf(q,
                        " CREATE INDEX IF NOT EXISTS \"%s\" ON \"%s\" ((doc->'%s')) WHERE jsonb_typeof(doc->'%s') = "
                        "'array';",
                        arrpg, coll, first, first);
    }
    krc_pg_sql_add(q, DDL_END);
    return krc_pg_sql_status(q);
}
