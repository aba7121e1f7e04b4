#include "core/db/mongo_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db/path.h"
#include "core/util/err.h"

#define MAX_DEPTH 32

/* ---- regular expressions ---- */

static int regex_flag_ok(char c)
{
    return c == 'i' || c == 'm' || c == 's' || c == 'x';
}

/* Escapes that mean the same in PCRE and in PostgreSQL AREs. */
static int escape_ok(char e)
{
    if (!((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')))
        return 1; /* an escaped punctuation character is itself */
    return strchr("dDsSwWbBAzZnrtfvx123456789", e) != NULL;
}

/* Length of a {n}, {n,} or {n,m} quantifier at p, 0 if p is not one. */
static size_t brace_quantifier(const char *p)
{
    size_t i = 1, digits = 0;
    while (p[i] >= '0' && p[i] <= '9')
        i++, digits++;
    if (digits == 0)
        return 0;
    if (p[i] == ',') {
        i++;
        while (p[i] >= '0' && p[i] <= '9')
            i++;
    }
    return p[i] == '}' ? i + 1 : 0;
}

static int regex_refuse(const char *what)
{
    return krc_err_set(KR_EINVAL, "$regex: %s is not supported (only syntax that MongoDB and PostgreSQL share)", what);
}

int krc_mongo_check_regex(const char *pattern, const char *options)
{
    for (const char *o = options != NULL ? options : ""; *o != '\0'; o++)
        if (!regex_flag_ok(*o))
            return krc_err_set(KR_EINVAL, "$options: unsupported regex option '%c' (supported: i m s x)", *o);
    const char *p = pattern;
    if (strncmp(p, "(?", 2) == 0) {
        size_t i = 2;
        while (regex_flag_ok(p[i]))
            i++;
        if (p[i] == ')' && i > 2)
            p += i + 1;
    }
    int bracket = 0, quantified = 0;
    for (size_t i = 0; p[i] != '\0'; i++) {
        char c = p[i];
        int was_quantified = quantified;
        quantified = 0;
        if (c == '\\') {
            char e = p[++i];
            if (e == '\0')
                return krc_err_set(KR_EINVAL, "$regex: trailing backslash");
            if (!escape_ok(e)) {
                char what[8];
                snprintf(what, sizeof(what), "\\%c", e);
                return regex_refuse(what);
            }
        } else if (bracket) {
            if (c == '[' && (p[i + 1] == ':' || p[i + 1] == '.' || p[i + 1] == '=')) {
                const char *end = strstr(p + i + 2, (char[]){p[i + 1], ']', '\0'});
                if (end != NULL)
                    i = (size_t)(end - p) + 1;
            } else if (c == ']') {
                bracket = 0;
            }
        } else if (c == '[') {
            bracket = 1;
            if (p[i + 1] == '^')
                i++;
            if (p[i + 1] == ']') /* a leading ] is literal */
                i++;
        } else if (c == '(' && p[i + 1] == '?') {
            const char *g = p + i + 2;
            if (!(g[0] == ':' || g[0] == '=' || g[0] == '!' || (g[0] == '<' && (g[1] == '=' || g[1] == '!'))))
                return regex_refuse("this (? group (named, atomic, inline options past the start)");
        } else if (c == '(' && p[i + 1] == '*') {
            return regex_refuse("(* verb");
        } else if (c == '*' || c == '+' || c == '?') {
            if (c == '+' && was_quantified)
                return regex_refuse("a possessive quantifier");
            /* a lazy '?' after a quantifier is not itself quantified */
            quantified = !(c == '?' && was_quantified);
        } else if (c == '{') {
            size_t n = brace_quantifier(p + i);
            if (n > 0) {
                i += n - 1;
                quantified = 1;
            }
        }
    }
    return 0;
}

/* ---- filters ---- */

static int doc_filter(const json_t *f, int depth);

static int is_scalar(const json_t *v)
{
    return json_is_string(v) || json_is_number(v) || json_is_boolean(v);
}

/* A string without an inner NUL (what C-string BSON fields can hold). */
static int is_text(const json_t *v)
{
    return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v);
}

static const char *where(const char *path)
{
    return path[0] != '\0' ? path : "the element";
}

static int op(const char *path, const char *name, const json_t *arg, const json_t *all)
{
    static const char *const ranges[] = {"$gt", "$gte", "$lt", "$lte"};
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
        if (strcmp(name, ranges[i]) == 0) {
            if (!is_scalar(arg))
                return krc_err_set(KR_EINVAL, "filter: %s on %s takes a number, string or boolean", name, where(path));
            return 0;
        }
    if (strcmp(name, "$eq") == 0 || strcmp(name, "$ne") == 0)
        return 0;
    if (strcmp(name, "$in") == 0 || strcmp(name, "$nin") == 0) {
        if (!json_is_array(arg))
            return krc_err_set(KR_EINVAL, "filter: %s on %s needs an array", name, where(path));
        return 0;
    }
    if (strcmp(name, "$exists") == 0) {
        if (!json_is_boolean(arg) && !json_is_number(arg))
            return krc_err_set(KR_EINVAL, "filter: $exists on %s takes true or false", where(path));
        return 0;
    }
    if (strcmp(name, "$regex") == 0) {
        const json_t *opts = json_object_get(all, "$options");
        if (!is_text(arg))
            return krc_err_set(KR_EINVAL, "filter: $regex on %s takes a string (without NUL)", where(path));
        if (opts != NULL && !is_text(opts))
            return krc_err_set(KR_EINVAL, "filter: $options on %s takes a string", where(path));
        return krc_mongo_check_regex(json_string_value(arg), opts != NULL ? json_string_value(opts) : NULL);
    }
    return krc_err_set(KR_EINVAL, "filter: unsupported operator %.64s%s%s", name, path[0] ? " on " : "", path);
}

static int operators(const char *path, const json_t *ops)
{
    if (json_object_get(ops, "$options") != NULL && json_object_get(ops, "$regex") == NULL)
        return krc_err_set(KR_EINVAL, "filter: $options without $regex on %s", where(path));
    const char *name;
    const json_t *arg;
    json_object_foreach((json_t *)ops, name, arg)
    {
        if (strcmp(name, "$options") == 0)
            continue;
        int rc = op(path, name, arg, ops);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static size_t dollar_keys(const json_t *o)
{
    size_t n = 0;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)o, k, v) n += k[0] == '$';
    return n;
}

static int field(const char *path, const json_t *v)
{
    if (json_is_object(v) && json_object_size(v) > 0) {
        size_t ops = dollar_keys(v);
        if (ops == json_object_size(v))
            return operators(path, v);
        if (ops > 0)
            return krc_err_set(KR_EINVAL, "filter: the condition on %s mixes operators and field names", where(path));
    }
    return 0;
}

static int logical(const char *name, const json_t *arr, int depth)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return krc_err_set(KR_EINVAL, "filter: %s needs a non-empty array of filters", name);
    size_t i;
    const json_t *sub;
    json_array_foreach(arr, i, sub)
    {
        int rc = doc_filter(sub, depth);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int doc_filter(const json_t *f, int depth)
{
    if (!json_is_object(f))
        return krc_err_set(KR_EINVAL, "filter: a filter must be a JSON object");
    if (depth + 1 > MAX_DEPTH)
        return krc_err_set(KR_EINVAL, "filter: nested deeper than %d", MAX_DEPTH);
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)f, key, v)
    {
        int rc;
        if (strcmp(key, "$and") == 0 || strcmp(key, "$or") == 0 || strcmp(key, "$nor") == 0)
            rc = logical(key, v, depth + 1);
        else if ((rc = krc_db_path_check(key, "filter")) == 0)
            rc = field(key, v);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int krc_mongo_check_filter(const json_t *filter)
{
    return filter != NULL ? doc_filter(filter, 0) : 0;
}

/* $pull's argument: a value, operators on the element, or a filter on the
 * fields of subdocument elements. */
static int pull_condition(const json_t *cond)
{
    size_t keys = json_is_object(cond) ? json_object_size(cond) : 0, ops = keys > 0 ? dollar_keys(cond) : 0;
    if (keys > 0 && ops == keys)
        return operators("", cond);
    if (keys > 0 && ops == 0)
        return doc_filter(cond, 0);
    if (keys > 0)
        return krc_err_set(KR_EINVAL, "$pull: the condition mixes operators and field names");
    return 0;
}

/* ---- updates ---- */

static const char *const known_ops[] = {"$set", "$unset", "$inc", "$push", "$pull", "$addToSet", "$setOnInsert"};

static int each_modifier(const char *op, const char *path, const json_t *arg)
{
    if (!json_is_object(arg) || json_object_size(arg) == 0)
        return 0;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)arg, k, v)
    {
        if (k[0] == '$' && strcmp(k, "$each") != 0)
            return krc_err_set(KR_EINVAL, "update: unsupported %s modifier %.64s on %s", op, k, path);
    }
    const json_t *each = json_object_get(arg, "$each");
    if (each != NULL && (json_object_size(arg) != 1 || !json_is_array(each)))
        return krc_err_set(KR_EINVAL, "update: %s on %s: $each takes an array and nothing beside it", op, path);
    return 0;
}

static int check_step(const char *op, const char *path, const json_t *arg)
{
    int rc = krc_db_path_check(path, op);
    if (rc != 0)
        return rc;
    if (krc_db_path_is_prefix("_id", path)) {
        if (strcmp(op, "$setOnInsert") == 0 && strcmp(path, "_id") == 0) {
            if (!is_text(arg))
                return krc_err_set(KR_EINVAL, "update: $setOnInsert: _id must be a string");
            return 0;
        }
        return krc_err_set(KR_EINVAL, "update: %s on %s: _id is immutable", op, path);
    }
    if (strcmp(op, "$inc") == 0 && !json_is_number(arg))
        return krc_err_set(KR_EINVAL, "update: $inc on %s takes a number", path);
    if (strcmp(op, "$push") == 0 || strcmp(op, "$addToSet") == 0)
        return each_modifier(op, path, arg);
    if (strcmp(op, "$pull") == 0)
        return pull_condition(arg);
    return 0;
}

typedef struct step {
    const char *op, *path;
} step;

static int check_operators(const json_t *update)
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
    step *s = calloc(cap, sizeof(*s));
    if (s == NULL)
        return krc_err_set(KR_ENOMEM, "out of memory");
    size_t n = 0;
    int rc = 0;
    json_object_foreach((json_t *)update, op, fields)
    {
        const char *path;
        const json_t *arg;
        json_object_foreach((json_t *)fields, path, arg)
        {
            if (rc != 0)
                break;
            rc = check_step(op, path, arg);
            /* MongoDB refuses two operators on one path, or on a path and
             * its prefix, too; here the message can name both */
            for (size_t j = 0; rc == 0 && j < n; j++)
                if (krc_db_path_is_prefix(s[j].path, path) || krc_db_path_is_prefix(path, s[j].path))
                    rc = krc_err_set(KR_EINVAL, "update: %s on %s conflicts with %s on %s", op, path, s[j].op,
                                     s[j].path);
            s[n++] = (step){op, path};
        }
    }
    free(s);
    return rc;
}

int krc_mongo_check_update(const json_t *update)
{
    size_t ops = dollar_keys(update);
    if (ops == 0) {
        const json_t *id = json_object_get(update, "_id");
        if (id != NULL && !is_text(id))
            return krc_err_set(KR_EINVAL, "replacement: _id must be a string");
        return 1;
    }
    if (ops != json_object_size(update))
        return krc_err_set(KR_EINVAL, "update: mixes operators and field names (a replacement has no operators)");
    return check_operators(update);
}

/* ---- sorts and indexes ---- */

/* 1 or -1 from a direction, 0 when it is neither. */
static int direction(const json_t *v)
{
    if (!json_is_number(v))
        return 0;
    double d = json_number_value(v);
    return d == 1 ? 1 : d == -1 ? -1 : 0;
}

int krc_mongo_check_sort(const json_t *sort)
{
    if (sort == NULL)
        return 0;
    if (!json_is_object(sort))
        return krc_err_set(KR_EINVAL, "sort: must be a JSON object");
    const char *path;
    const json_t *v;
    json_object_foreach((json_t *)sort, path, v)
    {
        int rc = krc_db_path_check(path, "sort");
        if (rc != 0)
            return rc;
        if (direction(v) == 0)
            return krc_err_set(KR_EINVAL, "sort: the direction of %s must be 1 or -1", path);
    }
    return 0;
}

static int index_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 120)
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

int krc_mongo_check_index(const json_t *keys, const char *name, char name_out[128])
{
    char derived[128] = "";
    const char *path;
    const json_t *v;
    json_object_foreach((json_t *)keys, path, v)
    {
        int rc = krc_db_path_check(path, "kr_db_create_index");
        if (rc != 0)
            return rc;
        int dir = direction(v);
        if (dir == 0)
            return krc_err_set(KR_EINVAL, "kr_db_create_index: the direction of %s must be 1 or -1", path);
        size_t len = strlen(derived);
        if (len < sizeof(derived))
            snprintf(derived + len, sizeof(derived) - len, "%s%s_%d", len ? "_" : "", path, dir);
    }
    if (name == NULL && strlen(derived) > 120)
        return krc_err_set(KR_EINVAL, "kr_db_create_index: too many keys for a derived name; pass a name");
    if (name != NULL && !index_name_ok(name))
        return krc_err_set(KR_EINVAL, "kr_db_create_index: bad index name \"%.64s\" (expected [A-Za-z0-9_.-]{1,120})",
                           name);
    snprintf(name_out, 128, "%s", name != NULL ? name : derived);
    return 0;
}
