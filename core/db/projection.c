#include "core/db/projection.h"

#include <stdlib.h>
#include <string.h>

#include "core/db/path.h"
#include "core/util/err.h"

struct krc_db_projection {
    json_t *tree; /* {seg: true | {seg: ...}} */
    int include;  /* 1: keep the paths; 0: drop them */
    int keep_id;  /* include mode: add the top-level _id */
};

void krc_db_projection_free(krc_db_projection *p)
{
    if (p == NULL)
        return;
    json_decref(p->tree);
    free(p);
}

/* 1 keep, 0 drop, -1 not a projection value. */
static int flag(const json_t *v)
{
    if (json_is_boolean(v))
        return json_is_true(v);
    if (json_is_integer(v) || json_is_real(v))
        return json_number_value(v) != 0;
    return -1;
}

static int add_path(json_t *tree, const char *path)
{
    char buf[KRC_DB_PATH_MAX + 1];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *node = tree;
    char *save = NULL;
    for (char *seg = strtok_r(buf, ".", &save); seg != NULL; seg = strtok_r(NULL, ".", &save)) {
        json_t *sub = json_object_get(node, seg);
        int last = save == NULL || *save == '\0';
        if (sub != NULL && (last || json_is_true(sub)))
            return krc_err_set(KR_EINVAL, "projection: %s overlaps another path", path);
        if (last)
            return json_object_set_new(node, seg, json_true()) == 0 ? 0 : krc_err_set(KR_ENOMEM, "out of memory");
        if (sub == NULL) {
            sub = json_object();
            if (sub == NULL || json_object_set_new(node, seg, sub) != 0)
                return krc_err_set(KR_ENOMEM, "out of memory");
        }
        node = sub;
    }
    return 0;
}

int krc_db_projection_compile(const json_t *spec, krc_db_projection **out)
{
    *out = NULL;
    if (spec == NULL || (json_is_object(spec) && json_object_size(spec) == 0))
        return 0;
    if (!json_is_object(spec))
        return krc_err_set(KR_EINVAL, "projection: must be a JSON object");
    krc_db_projection *p = calloc(1, sizeof(*p));
    if (p == NULL || (p->tree = json_object()) == NULL) {
        free(p);
        return krc_err_set(KR_ENOMEM, "out of memory");
    }
    int mode = -1, id = -1, rc = 0;
    const char *path;
    const json_t *v;
    json_object_foreach((json_t *)spec, path, v)
    {
        int f = flag(v);
        if (f < 0) {
            rc = krc_err_set(KR_EINVAL, "projection: %.64s must be 1, 0, true or false (operators are not supported)",
                             path);
            break;
        }
        if ((rc = krc_db_path_check(path, "projection")) != 0)
            break;
        if (strcmp(path, "_id") == 0) {
            id = f;
            continue;
        }
        if (mode >= 0 && mode != f) {
            rc = krc_err_set(KR_EINVAL, "projection: cannot mix inclusion and exclusion (%s)", path);
            break;
        }
        mode = f;
        if ((rc = add_path(p->tree, path)) != 0)
            break;
    }
    if (rc != 0) {
        krc_db_projection_free(p);
        return rc;
    }
    /* {_id: 0} alone drops _id; {_id: 1} alone keeps only _id. */
    p->include = mode >= 0 ? mode : id == 1;
    p->keep_id = id != 0;
    if (!p->include && id == 0 && json_object_set_new(p->tree, "_id", json_true()) != 0) {
        krc_db_projection_free(p);
        return krc_err_set(KR_ENOMEM, "out of memory");
    }
    *out = p;
    return 0;
}

static json_t *include(const json_t *tree, const json_t *v)
{
    if (json_is_object(v)) {
        json_t *out = json_object();
        const char *key;
        const json_t *sub;
        json_object_foreach((json_t *)tree, key, sub)
        {
            json_t *x = json_object_get(v, key);
            if (x == NULL || out == NULL)
                continue;
            json_t *r = json_is_true(sub) ? json_incref(x) : include(sub, x);
            if (r != NULL)
                json_object_set_new(out, key, r);
        }
        return out;
    }
    if (json_is_array(v)) {
        json_t *out = json_array();
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e)
        {
            if (out != NULL && (json_is_object(e) || json_is_array(e)))
                json_array_append_new(out, include(tree, e));
        }
        return out;
    }
    return NULL;
}

static json_t *exclude(const json_t *tree, const json_t *v)
{
    if (json_is_object(v)) {
        json_t *out = json_object();
        const char *key;
        const json_t *x;
        json_object_foreach((json_t *)v, key, x)
        {
            const json_t *sub = json_object_get(tree, key);
            if (out == NULL || json_is_true(sub))
                continue;
            json_object_set_new(out, key, sub != NULL ? exclude(sub, x) : json_incref((json_t *)x));
        }
        return out;
    }
    if (json_is_array(v)) {
        json_t *out = json_array();
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e)
        {
            if (out != NULL)
                json_array_append_new(out, exclude(tree, e));
        }
        return out;
    }
    return json_incref((json_t *)v);
}

json_t *krc_db_projection_apply(const krc_db_projection *p, const json_t *doc)
{
    if (p == NULL)
        return json_incref((json_t *)doc);
    if (!p->include)
        return exclude(p->tree, doc);
    json_t *out = include(p->tree, doc);
    json_t *id = json_object_get(doc, "_id");
    if (out != NULL && p->keep_id && id != NULL)
        json_object_set(out, "_id", id);
    return out;
}

int krc_db_projection_top(const krc_db_projection *p, const char **names, size_t max, size_t *n, int *done)
{
    *n = 0;
    *done = 0;
    const char *key;
    const json_t *sub;
    json_object_foreach(p->tree, key, sub)
    {
        if (!p->include && !json_is_true(sub))
            continue; /* a nested drop: the top-level field stays */
        if (*n == max)
            return -1;
        names[(*n)++] = key;
    }
    if (p->include && p->keep_id && json_object_get(p->tree, "_id") == NULL) {
        if (*n == max)
            return -1;
        names[(*n)++] = "_id";
    }
    /* exclude() keeps every other key, in order, as it is */
    *done = !p->include && *n == json_object_size(p->tree);
    return p->include;
}
