/* Fake host: MongoDB filter matching for the subset of kirana/db.h. Every
 * clause is evaluated (no short cut) so that an unsupported operator is
 * reported whatever the document. */
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "value.h"

typedef struct err_buf {
    char *buf;
    size_t len;
} err_buf;

__attribute__((format(printf, 2, 3))) static int bad(err_buf *e, const char *fmt, ...)
{
    if (e->buf != NULL && e->len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->buf, e->len, fmt, ap);
        va_end(ap);
    }
    return KR_EINVAL;
}

static int match_doc(const json_t *filter, const json_t *doc, err_buf *e);

/* Equality as MongoDB applies it to one reached value: a missing field
 * equals null, and an array also equals v when one of its elements does. */
static int leaf_eq(const json_t *leaf, const json_t *v)
{
    if (leaf == NULL)
        return json_is_null(v);
    if (krf_compare(leaf, v) == 0)
        return 1;
    if (json_is_array(leaf)) {
        size_t i;
        const json_t *el;
        json_array_foreach(leaf, i, el)
        {
            if (krf_compare(el, v) == 0)
                return 1;
        }
    }
    return 0;
}

static int any_eq(const krf_leaves *l, const json_t *v)
{
    for (size_t i = 0; i < l->n; i++)
        if (leaf_eq(l->v[i], v))
            return 1;
    return 0;
}

enum cmp_op { OP_GT, OP_GTE, OP_LT, OP_LTE };

/* Range operators only compare within one type bracket, as MongoDB does:
 * {$gt: 5} never matches a string. */
static int cmp_ok(const json_t *c, const json_t *v, enum cmp_op op)
{
    if (krf_rank(c) != krf_rank(v))
        return 0;
    int r = krf_compare(c, v);
    switch (op) {
    case OP_GT:
        return r > 0;
    case OP_GTE:
        return r >= 0;
    case OP_LT:
        return r < 0;
    case OP_LTE:
        return r <= 0;
    }
    return 0;
}

static int any_cmp(const krf_leaves *l, const json_t *v, enum cmp_op op)
{
    for (size_t i = 0; i < l->n; i++) {
        const json_t *leaf = l->v[i];
        if (cmp_ok(leaf, v, op))
            return 1;
        if (json_is_array(leaf)) {
            size_t j;
            const json_t *el;
            json_array_foreach(leaf, j, el)
            {
                if (cmp_ok(el, v, op))
                    return 1;
            }
        }
    }
    return 0;
}

static int any_regex(const krf_leaves *l, const regex_t *re)
{
    for (size_t i = 0; i < l->n; i++) {
        const json_t *leaf = l->v[i];
        if (json_is_string(leaf) && regexec(re, json_string_value(leaf), 0, NULL, 0) == 0)
            return 1;
        if (json_is_array(leaf)) {
            size_t j;
            const json_t *el;
            json_array_foreach(leaf, j, el)
            {
                if (json_is_string(el) && regexec(re, json_string_value(el), 0, NULL, 0) == 0)
                    return 1;
            }
        }
    }
    return 0;
}

static int op_regex(const krf_leaves *l, const char *path, const json_t *ops, err_buf *e)
{
    const json_t *pat = json_object_get(ops, "$regex");
    const json_t *opt = json_object_get(ops, "$options");
    if (!json_is_string(pat))
        return bad(e, "$regex on '%s' needs a string", path);
    int flags = REG_EXTENDED | REG_NOSUB;
    if (opt != NULL) {
        if (!json_is_string(opt))
            return bad(e, "$options on '%s' needs a string", path);
        for (const char *o = json_string_value(opt); *o != '\0'; o++) {
            if (*o != 'i')
                return bad(e, "unsupported $regex option '%c' on '%s' (only \"i\")", *o, path);
            flags |= REG_ICASE;
        }
    }
    regex_t re;
    int rc = regcomp(&re, json_string_value(pat), flags);
    if (rc != 0) {
        char msg[128];
        regerror(rc, &re, msg, sizeof(msg));
        regfree(&re);
        return bad(e, "bad $regex on '%s': %s", path, msg);
    }
    int m = any_regex(l, &re);
    regfree(&re);
    return m;
}

static int op_in(const krf_leaves *l, const char *path, const char *op, const json_t *arg, err_buf *e)
{
    if (!json_is_array(arg))
        return bad(e, "%s on '%s' needs an array", op, path);
    size_t i;
    const json_t *v;
    json_array_foreach(arg, i, v)
    {
        if (krf_is_operators(v))
            return bad(e, "%s on '%s' takes values, not operators", op, path);
    }
    json_array_foreach(arg, i, v)
    {
        if (any_eq(l, v))
            return 1;
    }
    return 0;
}

static int exists(const krf_leaves *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i] != NULL)
            return 1;
    return 0;
}

/* One operator of {path: {$op: arg, ...}}: 1, 0 or an error. */
static int match_op(const krf_leaves *l, const char *path, const json_t *ops, const char *op, const json_t *arg,
                    err_buf *e)
{
    if (op[0] != '$')
        return bad(e, "unknown operator '%s' on '%s' (operators and fields mixed)", op, path);
    if (strcmp(op, "$eq") == 0)
        return any_eq(l, arg);
    if (strcmp(op, "$ne") == 0)
        return !any_eq(l, arg);
    if (strcmp(op, "$gt") == 0)
        return any_cmp(l, arg, OP_GT);
    if (strcmp(op, "$gte") == 0)
        return any_cmp(l, arg, OP_GTE);
    if (strcmp(op, "$lt") == 0)
        return any_cmp(l, arg, OP_LT);
    if (strcmp(op, "$lte") == 0)
        return any_cmp(l, arg, OP_LTE);
    if (strcmp(op, "$in") == 0)
        return op_in(l, path, op, arg, e);
    if (strcmp(op, "$nin") == 0) {
        int r = op_in(l, path, op, arg, e);
        return r < 0 ? r : !r;
    }
    if (strcmp(op, "$exists") == 0) {
        if (!json_is_boolean(arg) && !json_is_number(arg))
            return bad(e, "$exists on '%s' needs a boolean", path);
        int want = json_is_boolean(arg) ? json_is_true(arg) : json_number_value(arg) != 0;
        return exists(l) == want;
    }
    if (strcmp(op, "$regex") == 0)
        return op_regex(l, path, ops, e);
    if (strcmp(op, "$options") == 0) {
        if (json_object_get(ops, "$regex") == NULL)
            return bad(e, "$options on '%s' without $regex", path);
        return 1; /* read by $regex */
    }
    return bad(e, "unsupported query operator %s on '%s'", op, path);
}

static int match_field(const json_t *doc, const char *path, const json_t *cond, err_buf *e)
{
    krf_leaves l = {0};
    if (krf_leaves_get(doc, path, &l) != 0)
        return bad(e, "bad field path '%s'", path);
    int result = 1;
    if (krf_is_operators(cond)) {
        const char *op;
        const json_t *arg;
        json_object_foreach((json_t *)cond, op, arg)
        {
            int r = match_op(&l, path, cond, op, arg, e);
            if (r < 0) {
                result = r;
                break;
            }
            result = result && r;
        }
    } else {
        result = any_eq(&l, cond);
    }
    krf_leaves_free(&l);
    return result;
}

static int match_logical(const json_t *doc, const char *op, const json_t *arg, err_buf *e)
{
    int is_and = strcmp(op, "$and") == 0, is_nor = strcmp(op, "$nor") == 0;
    if (!is_and && !is_nor && strcmp(op, "$or") != 0)
        return bad(e, "unsupported query operator %s", op);
    if (!json_is_array(arg) || json_array_size(arg) == 0)
        return bad(e, "%s needs a non-empty array of filters", op);
    int result = is_and;
    size_t i;
    const json_t *sub;
    json_array_foreach(arg, i, sub)
    {
        int r = match_doc(sub, doc, e);
        if (r < 0)
            return r;
        result = is_and ? (result && r) : (result || r);
    }
    return is_nor ? !result : result;
}

static int match_doc(const json_t *filter, const json_t *doc, err_buf *e)
{
    if (!json_is_object(filter))
        return bad(e, "a filter must be a JSON object");
    int result = 1;
    const char *key;
    const json_t *cond;
    json_object_foreach((json_t *)filter, key, cond)
    {
        int r = key[0] == '$' ? match_logical(doc, key, cond, e) : match_field(doc, key, cond, e);
        if (r < 0)
            return r;
        result = result && r;
    }
    return result;
}

int kr_fake_match(const json_t *filter, const json_t *doc, char *err, size_t errlen)
{
    err_buf e = {err, errlen};
    if (filter == NULL)
        return 1;
    return match_doc(filter, doc, &e);
}
