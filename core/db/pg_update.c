/* Core, PostgreSQL backend: the update compiler.
 *
 * Each (operator, path) pair becomes one step, a jsonb expression over the
 * previous step's document. Steps are chained with LATERAL subqueries so
 * each one names the previous document once, however many steps follow:
 *   (SELECT u3.d FROM (SELECT t.doc AS d) AS u1
 *     CROSS JOIN LATERAL (SELECT kirana_v1_inc(u1.d, '{stock}', $1) AS d) AS u2
 *     CROSS JOIN LATERAL (SELECT kirana_v1_push(u2.d, '{holds}', $2) AS d) AS u3)
 * The statement around it (pg.c) runs this in one UPDATE of a locked row. */
#include "core/db/pg_update.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db/path.h"
#include "core/db/pg_filter.h"
#include "core/db/pg_path.h"
#include "core/db/pg_schema.h"
#include "core/util/err.h"

typedef struct step {
    const char *op;
    const char *path;
    const json_t *arg;
} step;

static const char *const known_ops[] = {"$set", "$unset", "$inc", "$push", "$pull", "$addToSet", "$setOnInsert"};

int krc_pg_update_is_replacement(const json_t *update)
{
    size_t ops = 0;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)update, k, v) ops += k[0] == '$';
    if (ops == 0)
        return 1;
    if (ops == json_object_size(update))
        return 0;
    return krc_err_set(KR_EINVAL, "update: mixes operators and field names (a replacement has no operators)");
}

/* {$each: [...]} for $push and $addToSet; the values to add in *values
 * (a new reference). */
static int each_values(const char *op, const char *path, const json_t *arg, json_t **values)
{
    if (json_is_object(arg) && json_object_size(arg) > 0) {
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)arg, k, v)
        {
            if (k[0] == '$' && strcmp(k, "$each") != 0)
                return krc_err_set(KR_EINVAL, "update: unsupported %s modifier %.64s on %s", op, k, path);
        }
        const json_t *each = json_object_get(arg, "$each");
        if (each != NULL) {
            if (json_object_size(arg) != 1 || !json_is_array(each))
                return krc_err_set(KR_EINVAL, "update: %s on %s: $each takes an array and nothing beside it", op, path);
            *values = json_incref((json_t *)each);
            return 0;
        }
    }
    *values = json_pack("[O]", arg);
    return *values != NULL ? 0 : krc_err_set(KR_ENOMEM, "out of memory");
}

static int check_step(const step *s)
{
    int rc = krc_db_path_check(s->path, s->op);
    if (rc != 0)
        return rc;
    if (krc_db_path_is_prefix("_id", s->path)) {
        if (strcmp(s->op, "$setOnInsert") == 0 && strcmp(s->path, "_id") == 0) {
            if (!json_is_string(s->arg))
                return krc_err_set(KR_EINVAL, "update: $setOnInsert: _id must be a string");
            return 0;
        }
        return krc_err_set(KR_EINVAL, "update: %s on %s: _id is immutable", s->op, s->path);
    }
    if (strcmp(s->op, "$inc") == 0 && !json_is_number(s->arg))
        return krc_err_set(KR_EINVAL, "update: $inc on %s takes a number", s->path);
    return 0;
}

/* The operators as steps, checked; *out malloc()ed. */
static int collect(const json_t *update, step **out, size_t *n)
{
    size_t cap = 0;
    const char *op;
    const json_t *fields;
    json_object_foreach((json_t *)update, op, fields)
    {
        size_t known = 0;
        while (known < sizeof(known_ops) / sizeof(known_ops[0]) && strcmp(op, known_ops[known]) != 0)
            known++;
        if (known == sizeof(known_ops) / sizeof(known_ops[0]))
            return krc_err_set(KR_EINVAL, "update: unsupported operator %.64s", op);
        if (!json_is_object(fields) || json_object_size(fields) == 0)
            return krc_err_set(KR_EINVAL, "update: %s takes a non-empty object of fields", op);
        cap += json_object_size(fields);
    }
    step *s = calloc(cap ? cap : 1, sizeof(*s));
    if (s == NULL)
        return krc_err_set(KR_ENOMEM, "out of memory");
    size_t k = 0;
    json_object_foreach((json_t *)update, op, fields)
    {
        const char *path;
        const json_t *arg;
        json_object_foreach((json_t *)fields, path, arg)
        {
            s[k] = (step){op, path, arg};
            int rc = check_step(&s[k]);
            for (size_t j = 0; rc == 0 && j < k; j++)
                if (krc_db_path_is_prefix(s[j].path, path) || krc_db_path_is_prefix(path, s[j].path))
                    rc = krc_err_set(KR_EINVAL, "update: %s on %s conflicts with %s on %s", op, path, s[j].op,
                                     s[j].path);
            if (rc != 0) {
                free(s);
                return rc;
            }
            k++;
        }
    }
    *out = s;
    *n = k;
    return 0;
}

/* Whether the step does anything in this statement. */
static int active(const step *s, int inserting)
{
    if (strcmp(s->op, "$setOnInsert") != 0)
        return 1;
    return inserting && strcmp(s->path, "_id") != 0;
}

static int emit_pull(krc_pg_sql *q, const step *s, const char *prev)
{
    int a = krc_pg_sql_alias(q);
    char elem[32];
    snprintf(elem, sizeof(elem), "e%d.x", a);
    krc_pg_sql_addf(q, KRC_PG_FN "pull(%s, ", prev);
    krc_pg_path_array(q, s->path);
    krc_pg_sql_addf(q,
                    ", (SELECT coalesce(jsonb_agg(e%d.x ORDER BY e%d.i), '[]'::jsonb) FROM "
                    "jsonb_array_elements(CASE WHEN jsonb_typeof(",
                    a, a);
    krc_pg_path_get(q, prev, s->path);
    krc_pg_sql_add(q, ") = 'array' THEN ");
    krc_pg_path_get(q, prev, s->path);
    krc_pg_sql_addf(q, " END) WITH ORDINALITY AS e%d(x, i) WHERE NOT coalesce(", a);
    int rc = krc_pg_filter_pull(q, s->arg, elem);
    krc_pg_sql_add(q, ", false)))");
    return rc;
}

/* One step's expression over the document prev. */
static int emit_step(krc_pg_sql *q, const step *s, const char *prev)
{
    const char *op = s->op;
    int top = krc_pg_path_is_top(s->path);
    if (strcmp(op, "$set") == 0 || strcmp(op, "$setOnInsert") == 0) {
        int n = krc_pg_sql_param_json(q, s->arg);
        if (top) {
            krc_pg_sql_addf(q, "(%s || jsonb_build_object('%s', $%d::jsonb))", prev, s->path, n);
            return 0;
        }
        krc_pg_sql_addf(q, KRC_PG_FN "set(%s, ", prev);
        krc_pg_path_array(q, s->path);
        krc_pg_sql_addf(q, ", $%d::jsonb)", n);
        return 0;
    }
    if (strcmp(op, "$unset") == 0) {
        if (top) {
            krc_pg_sql_addf(q, "(%s - '%s')", prev, s->path);
            return 0;
        }
        krc_pg_sql_addf(q, KRC_PG_FN "unset(%s, ", prev);
        krc_pg_path_array(q, s->path);
        krc_pg_sql_add(q, ")");
        return 0;
    }
    if (strcmp(op, "$pull") == 0)
        return emit_pull(q, s, prev);
    const char *fn = strcmp(op, "$inc") == 0 ? "inc" : strcmp(op, "$push") == 0 ? "push" : "add_to_set";
    json_t *values = NULL;
    if (strcmp(op, "$inc") != 0) {
        int rc = each_values(op, s->path, s->arg, &values);
        if (rc != 0)
            return rc;
    }
    int n = krc_pg_sql_param_json(q, values != NULL ? values : s->arg);
    json_decref(values);
    krc_pg_sql_addf(q, KRC_PG_FN "%s(%s, ", fn, prev);
    krc_pg_path_array(q, s->path);
    krc_pg_sql_addf(q, ", $%d::jsonb)", n);
    return 0;
}

int krc_pg_update(krc_pg_sql *q, const json_t *update, const char *src, int inserting)
{
    step *steps = NULL;
    size_t n = 0;
    int rc = collect(update, &steps, &n);
    if (rc != 0)
        return rc;
    size_t live = 0;
    for (size_t i = 0; i < n; i++)
        live += active(&steps[i], inserting);
    if (live <= 1) {
        size_t i = 0;
        while (i < n && !active(&steps[i], inserting))
            i++;
        if (i == n)
            krc_pg_sql_addf(q, "(%s)", src);
        else
            rc = emit_step(q, &steps[i], src);
        free(steps);
        return rc != 0 ? rc : krc_pg_sql_status(q);
    }
    /* Reserve the chain's aliases first: steps take their own as they go. */
    int base = q->alias + 1;
    q->alias += (int)live + 1;
    krc_pg_sql_addf(q, "(SELECT u%d.d FROM (SELECT %s AS d) AS u%d", base + (int)live, src, base);
    int k = base;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!active(&steps[i], inserting))
            continue;
        char prev[32];
        snprintf(prev, sizeof(prev), "u%d.d", k);
        krc_pg_sql_add(q, " CROSS JOIN LATERAL (SELECT ");
        rc = emit_step(q, &steps[i], prev);
        krc_pg_sql_addf(q, " AS d) AS u%d", ++k);
    }
    krc_pg_sql_add(q, ")");
    free(steps);
    return rc != 0 ? rc : krc_pg_sql_status(q);
}

int krc_pg_update_replace(krc_pg_sql *q, const json_t *doc, const char *src)
{
    const json_t *id = json_object_get(doc, "_id");
    if (id == NULL) {
        krc_pg_sql_addf(q, "($%d::jsonb || jsonb_build_object('_id', %s->'_id'))", krc_pg_sql_param_json(q, doc), src);
        return krc_pg_sql_status(q);
    }
    if (!json_is_string(id))
        return krc_err_set(KR_EINVAL, "replacement: _id must be a string");
    int nid = krc_pg_sql_param_json(q, id);
    int ndoc = krc_pg_sql_param_json(q, doc);
    int nmsg = krc_pg_sql_param(q, "replacement: _id is immutable");
    krc_pg_sql_addf(q, "(CASE WHEN (%s->'_id') = $%d::jsonb THEN $%d::jsonb ELSE " KRC_PG_FN "fail($%d) END)", src, nid,
                    ndoc, nmsg);
    return krc_pg_sql_status(q);
}
