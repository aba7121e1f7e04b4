/* Core, PostgreSQL backend: the filter compiler.
 *
 * Subset (sdk/include/kirana/db.h), with MongoDB semantics: {path: value},
 * $eq $ne $gt $gte $lt $lte $in $nin $exists $regex (+ $options), $and,
 * $or and $nor, nested. Anything else is KR_EINVAL naming the operator.
 *
 * SQL approach. A collection is a table (id text, doc jsonb). Field paths
 * are checked (core/db/path.h) and written into the SQL; every value is a
 * parameter. A path is read with PostgreSQL's lax-mode SQL/JSON path
 * ('$."holds"."order"'), which looks through arrays met on the way as a
 * MongoDB dotted path does; '[*]' at the end also looks into an array found
 * there, so "any element matches" needs no extra code:
 *   eq scalar     jsonb_path_exists(doc, '$."a"[*] ? (@ == $v)', {v: $1})
 *   $gt .. $lte   the same with > >= < <=: SQL/JSON compares numbers as
 *                 numbers, strings by code point, and never across types
 *                 (a string is not > a number), as MongoDB does
 *   eq null       a value reached is null, or the path is missing
 *   eq object or array, $in
 *                 EXISTS over the values at the path and the elements of
 *                 those that are arrays, compared with jsonb = ANY($1::jsonb[])
 *   $exists       jsonb_path_exists(doc, '$."a"'), or doc ? 'a' at the top
 *   $regex        EXISTS over the string values: text ~ $1 (pg_regex.h)
 *   $ne, $nin     NOT coalesce(<$eq or $in>, false): no value matches
 *   $and, $or     AND, OR
 *   $nor          NOT coalesce(<the $or>, false): no filter matches
 * Fast paths with the same results: _id compared with strings uses the id
 * column (the primary key); a top-level field compared with a scalar or an
 * $in list is written
 *   (doc->'a') = $1 OR (jsonb_typeof(doc->'a') = 'array' AND <an element>)
 * which PostgreSQL answers from the expression index on (doc->'a') plus the
 * partial index on its array values that kr_db_create_index adds.
 *
 * Where this differs from MongoDB is listed in core/db/README.md. */
#include "core/db/pg_filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db/path.h"
#include "core/db/pg_path.h"
#include "core/db/pg_regex.h"
#include "core/util/err.h"

#define MAX_DEPTH 32

typedef struct cx {
    krc_pg_sql *q;
    const char *doc; /* SQL jsonb expression being matched */
    const char *id;  /* SQL expression of the id column, or NULL */
    int depth;
} cx;

static int doc_filter(cx *c, const json_t *f);

static int is_scalar(const json_t *v)
{
    return json_is_string(v) || json_is_number(v) || json_is_boolean(v);
}

static int is_id(const cx *c, const char *path)
{
    return c->id != NULL && strcmp(path, "_id") == 0;
}

/* A string that survives being sent as C text (no NUL inside). Others go
 * as JSON, which PostgreSQL refuses for a NUL: never a false match. */
static int is_text(const json_t *v)
{
    return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v);
}

static int is_top(const char *path)
{
    return krc_pg_path_is_top(path);
}

/* Some value at path, array elements included, compares with $n by op. */
static void any_cmp(cx *c, const char *path, const char *op, int n)
{
    char suffix[32];
    snprintf(suffix, sizeof(suffix), "[*] ? (@ %s $v)", op);
    krc_pg_sql_addf(c->q, "jsonb_path_exists(%s, ", c->doc);
    krc_pg_path_jsonpath(c->q, path, suffix);
    krc_pg_sql_addf(c->q, ", jsonb_build_object('v', $%d::jsonb))", n);
}

static void eq_scalar(cx *c, const char *path, const json_t *v)
{
    krc_pg_sql *q = c->q;
    if (is_id(c, path) && is_text(v)) {
        krc_pg_sql_addf(q, "(%s = $%d)", c->id, krc_pg_sql_param(q, json_string_value(v)));
        return;
    }
    int n = krc_pg_sql_param_json(q, v);
    if (!is_top(path)) {
        any_cmp(c, path, "==", n);
        return;
    }
    krc_pg_sql_addf(q, "((%s->'%s') = $%d::jsonb OR (jsonb_typeof(%s->'%s') = 'array' AND ", c->doc, path, n, c->doc,
                    path);
    any_cmp(c, path, "==", n);
    krc_pg_sql_add(q, "))");
}

static void eq_null(cx *c, const char *path)
{
    krc_pg_sql *q = c->q;
    if (is_top(path)) {
        krc_pg_sql_addf(q,
                        "((%s->'%s') IS NULL OR (%s->'%s') = 'null'::jsonb OR (jsonb_typeof(%s->'%s') = 'array' AND "
                        "jsonb_path_exists(%s, ",
                        c->doc, path, c->doc, path, c->doc, path, c->doc);
        krc_pg_path_jsonpath(q, path, "[*] ? (@ == null)");
        krc_pg_sql_add(q, ")))");
        return;
    }
    krc_pg_sql_addf(q, "(jsonb_path_exists(%s, ", c->doc);
    krc_pg_path_jsonpath(q, path, "[*] ? (@ == null)");
    krc_pg_sql_addf(q, ") OR NOT jsonb_path_exists(%s, ", c->doc);
    krc_pg_path_jsonpath(q, path, "");
    krc_pg_sql_add(q, "))");
}

/* A value at path, or an element of an array there, is one of `values`
 * (a non-empty JSON array without nulls), compared with jsonb =. */
static void in_values(cx *c, const char *path, const json_t *values)
{
    krc_pg_sql *q = c->q;
    int n = krc_pg_sql_param_array(q, values, 0);
    int a = krc_pg_sql_alias(q);
    if (is_top(path)) {
        krc_pg_sql_addf(q,
                        "((%s->'%s') = ANY($%d::jsonb[]) OR (jsonb_typeof(%s->'%s') = 'array' AND EXISTS (SELECT 1 "
                        "FROM jsonb_array_elements(%s->'%s') AS k%d(y) WHERE k%d.y = ANY($%d::jsonb[]))))",
                        c->doc, path, n, c->doc, path, c->doc, path, a, a, n);
        return;
    }
    int b = krc_pg_sql_alias(q);
    krc_pg_sql_addf(q, "EXISTS (SELECT 1 FROM jsonb_path_query(%s, ", c->doc);
    krc_pg_path_jsonpath(q, path, "");
    krc_pg_sql_addf(q,
                    ") AS k%d(x) WHERE k%d.x = ANY($%d::jsonb[]) OR (jsonb_typeof(k%d.x) = 'array' AND EXISTS "
                    "(SELECT 1 FROM jsonb_array_elements(k%d.x) AS k%d(y) WHERE k%d.y = ANY($%d::jsonb[]))))",
                    a, a, n, a, a, b, b, n);
}

static int eq(cx *c, const char *path, const json_t *v)
{
    if (json_is_null(v)) {
        eq_null(c, path);
        return 0;
    }
    if (is_scalar(v)) {
        eq_scalar(c, path, v);
        return 0;
    }
    json_t *one = json_pack("[O]", v);
    if (one == NULL)
        return krc_err_set(KR_ENOMEM, "out of memory");
    in_values(c, path, one);
    json_decref(one);
    return 0;
}

static int op_in(cx *c, const char *path, const char *op, const json_t *arr)
{
    krc_pg_sql *q = c->q;
    if (!json_is_array(arr))
        return krc_err_set(KR_EINVAL, "filter: %s on %s needs an array", op, path[0] ? path : "the element");
    size_t i;
    const json_t *v;
    int strings = 1, has_null = 0;
    json_array_foreach(arr, i, v)
    {
        strings &= is_text(v);
        has_null |= json_is_null(v);
    }
    if (json_array_size(arr) == 0) {
        krc_pg_sql_add(q, "FALSE");
        return 0;
    }
    if (is_id(c, path) && strings) {
        krc_pg_sql_addf(q, "(%s = ANY($%d::text[]))", c->id, krc_pg_sql_param_array(q, arr, 1));
        return 0;
    }
    json_t *rest = json_array();
    if (rest == NULL)
        return krc_err_set(KR_ENOMEM, "out of memory");
    json_array_foreach(arr, i, v)
    {
        if (!json_is_null(v) && json_array_append(rest, (json_t *)v) != 0) {
            json_decref(rest);
            return krc_err_set(KR_ENOMEM, "out of memory");
        }
    }
    krc_pg_sql_add(q, "(");
    if (json_array_size(rest) > 0)
        in_values(c, path, rest);
    if (json_array_size(rest) > 0 && has_null)
        krc_pg_sql_add(q, " OR ");
    if (has_null)
        eq_null(c, path);
    krc_pg_sql_add(q, ")");
    json_decref(rest);
    return 0;
}

static int op_range(cx *c, const char *path, const char *op, const char *sqlop, const json_t *v)
{
    if (!is_scalar(v))
        return krc_err_set(KR_EINVAL, "filter: %s on %s takes a number, string or boolean", op,
                           path[0] ? path : "the element");
    any_cmp(c, path, sqlop, krc_pg_sql_param_json(c->q, v));
    return 0;
}

static int op_exists(cx *c, const char *path, const json_t *v)
{
    krc_pg_sql *q = c->q;
    int want;
    if (json_is_boolean(v))
        want = json_is_true(v);
    else if (json_is_number(v))
        want = json_number_value(v) != 0;
    else
        return krc_err_set(KR_EINVAL, "filter: $exists on %s takes true or false", path[0] ? path : "the element");
    if (path[0] == '\0') {
        krc_pg_sql_add(q, want ? "TRUE" : "FALSE");
        return 0;
    }
    krc_pg_sql_add(q, want ? "(" : "(NOT ");
    if (c->id != NULL && is_top(path)) {
        /* c->doc is a whole document, an object: ? is the key test */
        krc_pg_sql_addf(q, "%s ? '%s'", c->doc, path);
    } else {
        krc_pg_sql_addf(q, "jsonb_path_exists(%s, ", c->doc);
        krc_pg_path_jsonpath(q, path, "");
        krc_pg_sql_add(q, ")");
    }
    krc_pg_sql_add(q, ")");
    return 0;
}

static int op_regex(cx *c, const char *path, const json_t *re, const json_t *opts)
{
    krc_pg_sql *q = c->q;
    if (!is_text(re))
        return krc_err_set(KR_EINVAL, "filter: $regex on %s takes a string (without NUL)",
                           path[0] ? path : "the element");
    if (opts != NULL && !is_text(opts))
        return krc_err_set(KR_EINVAL, "filter: $options on %s takes a string", path[0] ? path : "the element");
    char *are;
    int rc = krc_pg_regex(json_string_value(re), opts != NULL ? json_string_value(opts) : NULL, &are);
    if (rc != 0)
        return rc;
    int n = krc_pg_sql_param(q, are);
    free(are);
    int a = krc_pg_sql_alias(q);
    krc_pg_sql_addf(q, "EXISTS (SELECT 1 FROM jsonb_path_query(%s, ", c->doc);
    krc_pg_path_jsonpath(q, path, "[*]");
    krc_pg_sql_addf(q, ") AS k%d(x) WHERE jsonb_typeof(k%d.x) = 'string' AND (k%d.x #>> '{}') ~ $%d)", a, a, a, n);
    return 0;
}

/* One operator of {path: {$op: arg, ...}}. */
static int op(cx *c, const char *path, const char *name, const json_t *arg, const json_t *all)
{
    static const struct {
        const char *name, *sql;
    } ranges[] = {{"$gt", ">"}, {"$gte", ">="}, {"$lt", "<"}, {"$lte", "<="}};
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
        if (strcmp(name, ranges[i].name) == 0)
            return op_range(c, path, name, ranges[i].sql, arg);
    if (strcmp(name, "$eq") == 0)
        return eq(c, path, arg);
    if (strcmp(name, "$in") == 0)
        return op_in(c, path, name, arg);
    if (strcmp(name, "$exists") == 0)
        return op_exists(c, path, arg);
    if (strcmp(name, "$regex") == 0)
        return op_regex(c, path, arg, json_object_get(all, "$options"));
    if (strcmp(name, "$ne") == 0 || strcmp(name, "$nin") == 0) {
        krc_pg_sql_add(c->q, "(NOT coalesce(");
        int rc = name[2] == 'e' ? eq(c, path, arg) : op_in(c, path, name, arg);
        krc_pg_sql_add(c->q, ", false))");
        return rc;
    }
    return krc_err_set(KR_EINVAL, "filter: unsupported operator %.64s%s%s", name, path[0] ? " on " : "", path);
}

static int operators(cx *c, const char *path, const json_t *ops)
{
    if (json_object_get(ops, "$options") != NULL && json_object_get(ops, "$regex") == NULL)
        return krc_err_set(KR_EINVAL, "filter: $options without $regex on %s", path[0] ? path : "the element");
    krc_pg_sql_add(c->q, "(");
    const char *name;
    const json_t *arg;
    int first = 1;
    json_object_foreach((json_t *)ops, name, arg)
    {
        if (strcmp(name, "$options") == 0)
            continue;
        if (!first)
            krc_pg_sql_add(c->q, " AND ");
        first = 0;
        int rc = op(c, path, name, arg, ops);
        if (rc != 0)
            return rc;
    }
    krc_pg_sql_add(c->q, ")");
    return 0;
}

/* How many keys of the object start with '$'. */
static size_t dollar_keys(const json_t *o)
{
    size_t n = 0;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)o, k, v) n += k[0] == '$';
    return n;
}

/* {path: value} where value is a literal or an object of operators. */
static int field(cx *c, const char *path, const json_t *v)
{
    if (json_is_object(v) && json_object_size(v) > 0) {
        size_t ops = dollar_keys(v);
        if (ops == json_object_size(v))
            return operators(c, path, v);
        if (ops > 0)
            return krc_err_set(KR_EINVAL, "filter: the condition on %s mixes operators and field names",
                               path[0] ? path : "the element");
    }
    return eq(c, path, v);
}

/* $and, $or, or $nor (NOT of the $or; coalesce as for $ne). */
static int logical(cx *c, const char *name, const json_t *arr)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return krc_err_set(KR_EINVAL, "filter: %s needs a non-empty array of filters", name);
    int nor = strcmp(name, "$nor") == 0;
    krc_pg_sql_add(c->q, nor ? "(NOT coalesce((" : "(");
    size_t i;
    const json_t *sub;
    json_array_foreach(arr, i, sub)
    {
        if (i > 0)
            krc_pg_sql_add(c->q, name[1] == 'a' ? " AND " : " OR ");
        int rc = doc_filter(c, sub);
        if (rc != 0)
            return rc;
    }
    krc_pg_sql_add(c->q, nor ? "), false))" : ")");
    return 0;
}

static int doc_filter(cx *c, const json_t *f)
{
    if (!json_is_object(f))
        return krc_err_set(KR_EINVAL, "filter: a filter must be a JSON object");
    if (++c->depth > MAX_DEPTH)
        return krc_err_set(KR_EINVAL, "filter: nested deeper than %d", MAX_DEPTH);
    if (json_object_size(f) == 0) {
        krc_pg_sql_add(c->q, "TRUE");
        c->depth--;
        return 0;
    }
    krc_pg_sql_add(c->q, "(");
    const char *key;
    const json_t *v;
    int first = 1;
    json_object_foreach((json_t *)f, key, v)
    {
        if (!first)
            krc_pg_sql_add(c->q, " AND ");
        first = 0;
        int rc;
        if (strcmp(key, "$and") == 0 || strcmp(key, "$or") == 0 || strcmp(key, "$nor") == 0)
            rc = logical(c, key, v);
        else if ((rc = krc_db_path_check(key, "filter")) == 0)
            rc = field(c, key, v);
        if (rc != 0)
            return rc;
    }
    krc_pg_sql_add(c->q, ")");
    c->depth--;
    return 0;
}

int krc_pg_filter(krc_pg_sql *q, const json_t *filter, const char *doc, const char *id)
{
    if (filter == NULL) {
        krc_pg_sql_add(q, "TRUE");
        return krc_pg_sql_status(q);
    }
    cx c = {.q = q, .doc = doc, .id = id};
    int rc = doc_filter(&c, filter);
    return rc != 0 ? rc : krc_pg_sql_status(q);
}

int krc_pg_filter_pull(krc_pg_sql *q, const json_t *cond, const char *elem)
{
    cx c = {.q = q, .doc = elem};
    int rc;
    size_t keys = json_object_size(cond), ops = json_is_object(cond) ? dollar_keys(cond) : 0;
    if (keys > 0 && ops == keys)
        rc = operators(&c, "", cond);
    else if (keys > 0 && ops == 0)
        rc = doc_filter(&c, cond);
    else if (keys > 0)
        rc = krc_err_set(KR_EINVAL, "$pull: the condition mixes operators and field names");
    else {
        krc_pg_sql_addf(q, "(%s = $%d::jsonb)", elem, krc_pg_sql_param_json(q, cond));
        rc = 0;
    }
    return rc != 0 ? rc : krc_pg_sql_status(q);
}
