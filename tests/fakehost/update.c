/* Fake host: MongoDB updates ($set $unset $inc $push $pull $addToSet
 * $setOnInsert, or a replacement) and the document an upsert inserts. The
 * update is applied to a copy, so a failing update leaves the document as it
 * was. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "value.h"

#define MAX_DEPTH 64

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

typedef struct comp {
    const char *s;
    size_t n;
} comp;

typedef struct path {
    const char *text;
    comp c[MAX_DEPTH];
    size_t n;
} path;

static int split(const char *text, path *p, err_buf *e)
{
    p->text = text;
    p->n = 0;
    if (!krf_path_ok(text))
        return bad(e, "bad field path '%s'", text);
    for (const char *s = text;;) {
        const char *dot = strchr(s, '.');
        size_t n = dot != NULL ? (size_t)(dot - s) : strlen(s);
        if (p->n == MAX_DEPTH)
            return bad(e, "field path '%s' is too deep", text);
        if (s[0] == '$')
            return bad(e, "positional and $-prefixed paths are not supported: '%s'", text);
        p->c[p->n++] = (comp){s, n};
        if (dot == NULL)
            return 0;
        s = dot + 1;
    }
}

static int is_id(const path *p)
{
    return p->c[0].n == 3 && memcmp(p->c[0].s, "_id", 3) == 0;
}

/* The value at p, or NULL when absent (no implicit array traversal: update
 * paths name one place). */
static json_t *get_path(json_t *root, const path *p)
{
    json_t *cur = root;
    for (size_t i = 0; i < p->n && cur != NULL; i++) {
        size_t idx;
        if (json_is_object(cur))
            cur = json_object_getn(cur, p->c[i].s, p->c[i].n);
        else if (json_is_array(cur) && krf_index(p->c[i].s, p->c[i].n, &idx))
            cur = json_array_get(cur, idx);
        else
            cur = NULL;
    }
    return cur;
}

/* Sets p to val (stolen), creating intermediate objects; an array index
 * past the end pads with nulls, as MongoDB does. */
static int set_path(json_t *root, const path *p, json_t *val, err_buf *e)
{
    json_t *cur = root;
    for (size_t i = 0; i < p->n; i++) {
        int last = i + 1 == p->n;
        const comp *c = &p->c[i];
        json_t *child;
        if (json_is_object(cur)) {
            if (last) {
                json_object_setn_new(cur, c->s, c->n, val);
                return 0;
            }
            child = json_object_getn(cur, c->s, c->n);
            if (child == NULL) {
                child = json_object();
                json_object_setn_new(cur, c->s, c->n, child);
            }
        } else {
            size_t idx;
            if (!krf_index(c->s, c->n, &idx)) {
                json_decref(val);
                return bad(e, "cannot create field '%.*s' in an array (path '%s')", (int)c->n, c->s, p->text);
            }
            while (json_array_size(cur) < idx)
                json_array_append_new(cur, json_null());
            if (last) {
                if (idx == json_array_size(cur))
                    json_array_append_new(cur, val);
                else
                    json_array_set_new(cur, idx, val);
                return 0;
            }
            child = json_array_get(cur, idx);
            if (child == NULL) {
                child = json_object();
                json_array_append_new(cur, child);
            }
        }
        if (!json_is_object(child) && !json_is_array(child)) {
            json_decref(val);
            return bad(e, "cannot create field '%.*s' inside a non-object (path '%s')", (int)p->c[i + 1].n,
                       p->c[i + 1].s, p->text);
        }
        cur = child;
    }
    json_decref(val);
    return 0;
}

static void unset_path(json_t *root, const path *p)
{
    path parent = *p;
    parent.n--;
    json_t *cur = parent.n == 0 ? root : get_path(root, &parent);
    const comp *c = &p->c[p->n - 1];
    size_t idx;
    if (json_is_object(cur))
        json_object_deln(cur, c->s, c->n);
    else if (json_is_array(cur) && krf_index(c->s, c->n, &idx) && idx < json_array_size(cur))
        json_array_set_new(cur, idx, json_null()); /* MongoDB keeps positions */
}

static int contains(const json_t *arr, const json_t *v)
{
    size_t i;
    const json_t *el;
    json_array_foreach(arr, i, el)
    {
        if (krf_compare(el, v) == 0)
            return 1;
    }
    return 0;
}

/* The values $push or $addToSet adds: arg itself, or {$each: [...]}. */
static int values_to_add(const char *op, const path *p, const json_t *arg, json_t **vals, err_buf *e)
{
    if (!krf_is_operators(arg)) {
        *vals = json_pack("[O]", arg);
        return 0;
    }
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)arg, k, v)
    {
        if (strcmp(k, "$each") != 0)
            return bad(e, "unsupported %s modifier %s on '%s'", op, k, p->text);
    }
    const json_t *each = json_object_get(arg, "$each");
    if (!json_is_array(each))
        return bad(e, "%s $each on '%s' needs an array", op, p->text);
    *vals = json_deep_copy(each);
    return 0;
}

static int array_target(json_t *doc, const char *op, const path *p, json_t **arr, err_buf *e)
{
    json_t *cur = get_path(doc, p);
    if (cur == NULL) {
        *arr = json_array();
        int rc = set_path(doc, p, *arr, e);
        return rc;
    }
    if (!json_is_array(cur))
        return bad(e, "cannot apply %s to the non-array field '%s'", op, p->text);
    *arr = cur;
    return 0;
}

static int op_add(json_t *doc, const char *op, const path *p, const json_t *arg, err_buf *e)
{
    json_t *vals = NULL;
    int rc = values_to_add(op, p, arg, &vals, e);
    if (rc != 0)
        return rc;
    json_t *arr;
    rc = array_target(doc, op, p, &arr, e);
    if (rc == 0) {
        int set = strcmp(op, "$addToSet") == 0;
        size_t i;
        json_t *v;
        json_array_foreach(vals, i, v)
        {
            if (!set || !contains(arr, v))
                json_array_append(arr, v);
        }
    }
    json_decref(vals);
    return rc;
}

/* Whether one array element goes: a plain object is a query on element
 * documents, an operator object a condition on the element itself, anything
 * else an equal value. */
static int pull_matches(const json_t *cond, const json_t *el, err_buf *e)
{
    if (krf_is_operators(cond)) {
        json_t *wdoc = json_pack("{sO}", "v", el), *wfilter = json_pack("{sO}", "v", cond);
        int r = kr_fake_match(wfilter, wdoc, e->buf, e->len);
        json_decref(wdoc);
        json_decref(wfilter);
        return r;
    }
    if (json_is_object(cond)) {
        if (json_is_object(el))
            return kr_fake_match(cond, el, e->buf, e->len);
        /* Scalars never match a query on fields; still check the query. */
        json_t *empty = json_object();
        int r = kr_fake_match(cond, empty, e->buf, e->len);
        json_decref(empty);
        return r < 0 ? r : 0;
    }
    return krf_compare(cond, el) == 0;
}

static int op_pull(json_t *doc, const path *p, const json_t *cond, err_buf *e)
{
    json_t *arr = get_path(doc, p);
    if (arr == NULL) {
        /* Still validate the condition: a bad operator is never ignored. */
        json_t *empty = json_object();
        int r = json_is_object(cond) ? pull_matches(cond, empty, e) : 0;
        json_decref(empty);
        return r < 0 ? r : 0;
    }
    if (!json_is_array(arr))
        return bad(e, "cannot apply $pull to the non-array field '%s'", p->text);
    for (size_t i = 0; i < json_array_size(arr);) {
        int r = pull_matches(cond, json_array_get(arr, i), e);
        if (r < 0)
            return r;
        if (r)
            json_array_remove(arr, i);
        else
            i++;
    }
    return 0;
}

static int op_inc(json_t *doc, const path *p, const json_t *by, err_buf *e)
{
    if (!json_is_number(by))
        return bad(e, "$inc on '%s' needs a number", p->text);
    json_t *cur = get_path(doc, p);
    if (cur == NULL)
        return set_path(doc, p, json_deep_copy(by), e);
    if (!json_is_number(cur))
        return bad(e, "cannot apply $inc to the non-numeric field '%s'", p->text);
    json_t *sum;
    if (json_is_integer(cur) && json_is_integer(by)) {
        json_int_t r;
        if (__builtin_add_overflow(json_integer_value(cur), json_integer_value(by), &r))
            return bad(e, "$inc on '%s' overflows a 64-bit integer", p->text);
        sum = json_integer(r);
    } else {
        sum = json_real(json_number_value(cur) + json_number_value(by));
    }
    return set_path(doc, p, sum, e);
}

/* $set and $setOnInsert: _id may be written only with its current value,
 * or once while inserting. */
static int op_set(json_t *doc, const char *op, const path *p, const json_t *val, int is_insert, err_buf *e)
{
    if (is_id(p)) {
        const json_t *id = json_object_get(doc, "_id");
        if (p->n != 1 || (id != NULL && !json_equal(id, val)) || (id == NULL && !is_insert))
            return bad(e, "%s cannot change the immutable field '_id'", op);
    }
    return set_path(doc, p, json_deep_copy(val), e);
}

static const char *const update_ops[] = {"$set", "$unset", "$inc", "$push", "$pull", "$addToSet", "$setOnInsert"};

/* Rejects an update whose paths overlap ("a" and "a.b", or one path twice
 * across operators), as MongoDB does, since the result would depend on the
 * order of application. */
static int check_conflicts(const json_t *update, err_buf *e)
{
    const char *paths[256];
    size_t n = 0;
    const char *op, *key;
    const json_t *args, *v;
    json_object_foreach((json_t *)update, op, args)
    {
        json_object_foreach((json_t *)args, key, v)
        {
            if (n == sizeof(paths) / sizeof(paths[0]))
                return bad(e, "too many fields in one update");
            paths[n++] = key;
        }
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            size_t li = strlen(paths[i]), lj = strlen(paths[j]);
            const char *s = li <= lj ? paths[i] : paths[j], *l = li <= lj ? paths[j] : paths[i];
            size_t ls = li <= lj ? li : lj;
            if (strncmp(s, l, ls) == 0 && (l[ls] == '\0' || l[ls] == '.'))
                return bad(e, "updating the path '%s' would conflict with '%s'", l, s);
        }
    }
    return 0;
}

static int apply_ops(json_t *doc, const json_t *update, int is_insert, err_buf *e)
{
    const char *op;
    const json_t *args;
    json_object_foreach((json_t *)update, op, args)
    {
        size_t k;
        for (k = 0; k < sizeof(update_ops) / sizeof(update_ops[0]); k++)
            if (strcmp(op, update_ops[k]) == 0)
                break;
        if (k == sizeof(update_ops) / sizeof(update_ops[0]))
            return bad(e, "unsupported update operator %s", op);
        if (!json_is_object(args))
            return bad(e, "%s needs an object of fields", op);
    }
    int rc = check_conflicts(update, e);
    if (rc != 0)
        return rc;
    json_object_foreach((json_t *)update, op, args)
    {
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)args, key, v)
        {
            path p;
            rc = split(key, &p, e);
            if (rc != 0)
                return rc;
            if (is_id(&p) && strcmp(op, "$set") != 0 && strcmp(op, "$setOnInsert") != 0)
                return bad(e, "%s cannot change the immutable field '_id'", op);
            if (strcmp(op, "$set") == 0)
                rc = op_set(doc, op, &p, v, is_insert, e);
            else if (strcmp(op, "$setOnInsert") == 0)
                rc = is_insert ? op_set(doc, op, &p, v, is_insert, e) : 0;
            else if (strcmp(op, "$unset") == 0)
                unset_path(doc, &p);
            else if (strcmp(op, "$inc") == 0)
                rc = op_inc(doc, &p, v, e);
            else if (strcmp(op, "$pull") == 0)
                rc = op_pull(doc, &p, v, e);
            else
                rc = op_add(doc, op, &p, v, e);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* 1 for a replacement, 0 for operators, or an error for a mix. */
static int is_replacement(const json_t *update, err_buf *e)
{
    if (!json_is_object(update))
        return bad(e, "an update must be a JSON object");
    int ops = 0, fields = 0;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)update, k, v)
    {
        if (k[0] == '$')
            ops++;
        else
            fields++;
    }
    if (ops != 0 && fields != 0)
        return bad(e, "an update mixes operators and fields");
    return ops == 0;
}

/* The replacement of doc by repl, keeping doc's _id first. */
static int replace(json_t *doc, const json_t *repl, json_t **out, err_buf *e)
{
    const json_t *id = json_object_get(doc, "_id"), *rid = json_object_get(repl, "_id");
    if (id != NULL && rid != NULL && !json_equal(id, rid))
        return bad(e, "a replacement cannot change the immutable field '_id'");
    *out = json_object();
    if (id != NULL || rid != NULL)
        json_object_set(*out, "_id", (json_t *)(id != NULL ? id : rid));
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)repl, k, v)
    {
        if (strcmp(k, "_id") != 0)
            json_object_set_new(*out, k, json_deep_copy(v));
    }
    return 0;
}

int kr_fake_apply_update(json_t *doc, const json_t *update, int is_insert, char *err, size_t errlen)
{
    err_buf e = {err, errlen};
    if (!json_is_object(doc))
        return bad(&e, "the document must be a JSON object");
    int repl = is_replacement(update, &e);
    if (repl < 0)
        return repl;
    json_t *next = NULL;
    int rc;
    if (repl) {
        rc = replace(doc, update, &next, &e);
    } else {
        next = json_deep_copy(doc);
        rc = apply_ops(next, update, is_insert, &e);
    }
    if (rc != 0) {
        json_decref(next);
        return rc;
    }
    int changed = !json_equal(doc, next);
    if (changed) {
        json_object_clear(doc);
        json_object_update(doc, next);
    }
    json_decref(next);
    return changed;
}

static int seed_from(json_t *seed, const json_t *filter, err_buf *e)
{
    if (!json_is_object(filter))
        return bad(e, "a filter must be a JSON object");
    const char *key;
    const json_t *cond;
    json_object_foreach((json_t *)filter, key, cond)
    {
        if (strcmp(key, "$and") == 0 && json_is_array(cond)) {
            size_t i;
            const json_t *sub;
            json_array_foreach(cond, i, sub)
            {
                int rc = seed_from(seed, sub, e);
                if (rc != 0)
                    return rc;
            }
            continue;
        }
        if (key[0] == '$')
            continue; /* $or and friends give no fields, as in MongoDB */
        const json_t *v = krf_is_operators(cond) ? json_object_get(cond, "$eq") : cond;
        if (v == NULL)
            continue;
        path p;
        int rc = split(key, &p, e);
        if (rc == 0)
            rc = set_path(seed, &p, json_deep_copy(v), e);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int kr_fake_upsert_doc(const json_t *filter, const json_t *update, json_t **out, char *err, size_t errlen)
{
    err_buf e = {err, errlen};
    *out = NULL;
    json_t *seed = json_object();
    int rc = kr_fake_match(filter, seed, err, errlen);
    if (rc >= 0 && filter != NULL)
        rc = seed_from(seed, filter, &e);
    if (rc >= 0) {
        int repl = is_replacement(update, &e);
        if (repl == 1) {
            json_t *only_id = json_object(), *next = NULL;
            if (json_object_get(seed, "_id") != NULL)
                json_object_set(only_id, "_id", json_object_get(seed, "_id"));
            rc = replace(only_id, update, &next, &e);
            json_decref(only_id);
            json_decref(seed);
            seed = next;
        } else {
            rc = repl < 0 ? repl : kr_fake_apply_update(seed, update, 1, err, errlen);
        }
    }
    if (rc < 0) {
        json_decref(seed);
        return rc;
    }
    *out = seed;
    return 0;
}
