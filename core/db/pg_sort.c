#include "core/db/pg_sort.h"

#include <string.h>

#include "core/db/path.h"
#include "core/db/pg_path.h"
#include "core/db/pg_schema.h"
#include "core/util/err.h"

/* Checks one key of a sort or index ({path: 1 | -1}) for `what` and
 * sets *d to "ASC" or "DESC". 0 or KR_EINVAL. */
static int key_direction(const char *path, const json_t *v, const char *what, const char **d)
{
    int rc = krc_db_path_check(path, what);
    if (rc != 0)
        return rc;
    double n = json_is_number(v) ? json_number_value(v) : 0;
    if (n != 1 && n != -1)
        return krc_err_set(KR_EINVAL, "%s: the direction of %s must be 1 or -1", what, path);
    *d = n > 0 ? "ASC" : "DESC";
    return 0;
}

/* The four keys of one path, each followed by " <d>": its type rank, its
 * value as a number, as a string (COLLATE "C") and as jsonb. ORDER BY and
 * the sort index (krc_pg_sort_index_sql) both write them here, so they are
 * the same expressions and the planner reads the index in order; an index
 * wants each in parentheses (o, c), which changes nothing else. */
static void sort_key(krc_pg_sql *q, const char *doc, const char *path, const char *d, int index)
{
    const char *o = index ? "(" : "", *c = index ? ")" : "";
    krc_pg_sql_addf(q, "%sCASE jsonb_typeof(", o);
    krc_pg_path_get(q, doc, path);
    krc_pg_sql_addf(q,
                    ") WHEN 'number' THEN 2 WHEN 'string' THEN 3 WHEN 'object' THEN 4 WHEN 'array' THEN 5 "
                    "WHEN 'boolean' THEN 6 ELSE 1 END%s %s, %sCASE WHEN jsonb_typeof(",
                    c, d, o);
    krc_pg_path_get(q, doc, path);
    krc_pg_sql_add(q, ") = 'number' THEN ");
    krc_pg_path_get(q, doc, path);
    krc_pg_sql_addf(q, "::numeric END%s %s, %sCASE WHEN jsonb_typeof(", c, d, o);
    krc_pg_path_get(q, doc, path);
    krc_pg_sql_add(q, ") = 'string' THEN ");
    krc_pg_path_get(q, doc, path);
    krc_pg_sql_addf(q, " #>> '{}' END%s COLLATE \"C\" %s, ", c, d);
    krc_pg_path_get(q, doc, path);
    krc_pg_sql_addf(q, " %s", d);
}

int krc_pg_sort(krc_pg_sql *q, const json_t *sort, const char *doc, const char *id)
{
    if (sort == NULL || (json_is_object(sort) && json_object_size(sort) == 0))
        return 0;
    if (!json_is_object(sort))
        return krc_err_set(KR_EINVAL, "sort: must be a JSON object");
    const char *path;
    const json_t *v;
    int first = 1, by_id = 0;
    json_object_foreach((json_t *)sort, path, v)
    {
        const char *d;
        int rc = key_direction(path, v, "sort", &d);
        if (rc != 0)
            return rc;
        krc_pg_sql_add(q, first ? " ORDER BY " : ", ");
        first = 0;
        if (strcmp(path, "_id") == 0) {
            krc_pg_sql_addf(q, "%s %s", id, d);
            by_id = 1;
            continue;
        }
        sort_key(q, doc, path, d, 0);
    }
    if (!by_id)
        krc_pg_sql_addf(q, ", %s", id);
    return krc_pg_sql_status(q);
}

int krc_pg_sort_index_sql(krc_pg_sql *q, const char *coll, const json_t *keys, const char *pgname)
{
    krc_pg_sql_addf(q, KRC_PG_DDL_BEGIN "CREATE INDEX IF NOT EXISTS \"%s\" ON \"%s\" (", pgname, coll);
    const char *path;
    const json_t *v;
    int by_id = 0, first = 1;
    json_object_foreach((json_t *)keys, path, v)
    {
        const char *d;
        int rc = key_direction(path, v, "kr_db_create_index", &d);
        if (rc != 0)
            return rc;
        krc_pg_sql_add(q, first ? "" : ", ");
        first = 0;
        if (strcmp(path, "_id") == 0) {
            krc_pg_sql_addf(q, "id %s", d);
            by_id = 1;
            break; /* a sort stops at _id: nothing after it can matter */
        }
        sort_key(q, "doc", path, d, 1);
    }
    if (!by_id)
        krc_pg_sql_add(q, ", id ASC");
    krc_pg_sql_add(q, ");" KRC_PG_DDL_END);
    return krc_pg_sql_status(q);
}
