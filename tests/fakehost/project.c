/* Fake host: projections ({field: 1, ...} or {field: 0, ...}) as MongoDB
 * applies them, arrays of subdocuments included. */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "value.h"

static int overlaps(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    const char *s = la <= lb ? a : b, *l = la <= lb ? b : a;
    size_t ls = la <= lb ? la : lb;
    return strncmp(s, l, ls) == 0 && (l[ls] == '\0' || l[ls] == '.');
}

int krf_projection_check(const json_t *projection, char *err, size_t errlen)
{
    if (projection == NULL)
        return 0;
    if (!json_is_object(projection)) {
        snprintf(err, errlen, "a projection must be a JSON object");
        return KR_EINVAL;
    }
    int incl = 0, excl = 0;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)projection, k, v)
    {
        if (k[0] == '$' || !krf_path_ok(k) || (!json_is_number(v) && !json_is_boolean(v))) {
            snprintf(err, errlen, "unsupported projection of '%s' (only {field: 1} or {field: 0})", k);
            return KR_EINVAL;
        }
        int on = json_is_boolean(v) ? json_is_true(v) : json_number_value(v) != 0;
        if (strcmp(k, "_id") != 0 && on)
            incl++;
        else if (strcmp(k, "_id") != 0)
            excl++;
        const char *k2;
        const json_t *v2;
        json_object_foreach((json_t *)projection, k2, v2)
        {
            if (k2 != k && overlaps(k, k2)) {
                snprintf(err, errlen, "projection paths '%s' and '%s' collide", k, k2);
                return KR_EINVAL;
            }
        }
    }
    if (incl != 0 && excl != 0) {
        snprintf(err, errlen, "a projection cannot mix inclusion and exclusion");
        return KR_EINVAL;
    }
    return 0;
}

static void include(const json_t *src, json_t *dst, const char *path)
{
    const char *dot = strchr(path, '.');
    size_t len = dot != NULL ? (size_t)(dot - path) : strlen(path);
    const json_t *child = json_object_getn(src, path, len);
    if (child == NULL)
        return;
    if (dot == NULL) {
        json_object_setn_new(dst, path, len, json_deep_copy(child));
        return;
    }
    json_t *d = json_object_getn(dst, path, len);
    if (json_is_object(child)) {
        if (d == NULL) {
            d = json_object();
            json_object_setn_new(dst, path, len, d);
        }
        include(child, d, dot + 1);
    } else if (json_is_array(child)) {
        /* Each element that is a document is projected in place; other
         * elements drop out, as in MongoDB. */
        if (d == NULL) {
            d = json_array();
            size_t i;
            const json_t *el;
            json_array_foreach(child, i, el)
            {
                if (json_is_object(el))
                    json_array_append_new(d, json_object());
            }
            json_object_setn_new(dst, path, len, d);
        }
        size_t i, k = 0;
        const json_t *el;
        json_array_foreach(child, i, el)
        {
            if (json_is_object(el))
                include(el, json_array_get(d, k++), dot + 1);
        }
    }
}

static void exclude(json_t *dst, const char *path)
{
    const char *dot = strchr(path, '.');
    size_t len = dot != NULL ? (size_t)(dot - path) : strlen(path);
    if (json_is_object(dst)) {
        if (dot == NULL)
            json_object_deln(dst, path, len);
        else
            exclude(json_object_getn(dst, path, len), dot + 1);
    } else if (json_is_array(dst)) {
        size_t i;
        json_t *el;
        json_array_foreach(dst, i, el)
        {
            if (json_is_object(el))
                exclude(el, path);
        }
    }
}

static int on(const json_t *v)
{
    return json_is_boolean(v) ? json_is_true(v) : json_number_value(v) != 0;
}

json_t *krf_project(const json_t *doc, const json_t *projection)
{
    if (projection == NULL || json_object_size(projection) == 0)
        return json_deep_copy(doc);
    const json_t *idv = json_object_get(projection, "_id");
    int inclusion = 0;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)projection, k, v)
    {
        if (on(v))
            inclusion = 1;
    }
    json_t *out;
    if (inclusion) {
        out = json_object();
        if ((idv == NULL || on(idv)) && json_object_get(doc, "_id") != NULL)
            json_object_set_new(out, "_id", json_deep_copy(json_object_get(doc, "_id")));
        json_object_foreach((json_t *)projection, k, v)
        {
            if (strcmp(k, "_id") != 0)
                include(doc, out, k);
        }
    } else {
        out = json_deep_copy(doc);
        json_object_foreach((json_t *)projection, k, v) exclude(out, k);
    }
    return out;
}
