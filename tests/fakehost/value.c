/* Fake host: ordering and dotted-path lookup of JSON values with MongoDB's
 * rules. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "value.h"

int krf_rank(const json_t *v)
{
    if (v == NULL)
        return KRF_RANK_NULL;
    switch (json_typeof(v)) {
    case JSON_NULL:
        return KRF_RANK_NULL;
    case JSON_INTEGER:
    case JSON_REAL:
        return KRF_RANK_NUMBER;
    case JSON_STRING:
        return KRF_RANK_STRING;
    case JSON_OBJECT:
        return KRF_RANK_OBJECT;
    case JSON_ARRAY:
        return KRF_RANK_ARRAY;
    case JSON_TRUE:
    case JSON_FALSE:
        return KRF_RANK_BOOL;
    }
    return KRF_RANK_NULL;
}

static int cmp_numbers(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return (x > y) - (x < y);
    }
    /* long double holds every int64 exactly, so 2^53 + 1 still differs
     * from 2^53 as an integer would. */
    long double x = json_is_integer(a) ? (long double)json_integer_value(a) : (long double)json_real_value(a);
    long double y = json_is_integer(b) ? (long double)json_integer_value(b) : (long double)json_real_value(b);
    return (x > y) - (x < y);
}

static int cmp_strings(const json_t *a, const json_t *b)
{
    size_t na = json_string_length(a), nb = json_string_length(b);
    int c = memcmp(json_string_value(a), json_string_value(b), na < nb ? na : nb);
    if (c != 0)
        return c < 0 ? -1 : 1;
    return (na > nb) - (na < nb);
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char **sorted_keys(const json_t *o, size_t *n)
{
    *n = json_object_size(o);
    const char **keys = krf_xcalloc(*n, sizeof(*keys));
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v) keys[i++] = k;
    qsort(keys, *n, sizeof(*keys), cmp_keys);
    return keys;
}

static int cmp_objects(const json_t *a, const json_t *b)
{
    size_t na, nb;
    const char **ka = sorted_keys(a, &na), **kb = sorted_keys(b, &nb);
    int c = 0;
    for (size_t i = 0; c == 0 && i < na && i < nb; i++) {
        c = strcmp(ka[i], kb[i]);
        if (c == 0)
            c = krf_compare(json_object_get(a, ka[i]), json_object_get(b, kb[i]));
        else
            c = c < 0 ? -1 : 1;
    }
    if (c == 0)
        c = (na > nb) - (na < nb);
    free(ka);
    free(kb);
    return c;
}

static int cmp_arrays(const json_t *a, const json_t *b)
{
    size_t na = json_array_size(a), nb = json_array_size(b);
    for (size_t i = 0; i < na && i < nb; i++) {
        int c = krf_compare(json_array_get(a, i), json_array_get(b, i));
        if (c != 0)
            return c;
    }
    return (na > nb) - (na < nb);
}

int krf_compare(const json_t *a, const json_t *b)
{
    int ra = krf_rank(a), rb = krf_rank(b);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    switch (ra) {
    case KRF_RANK_NUMBER:
        return cmp_numbers(a, b);
    case KRF_RANK_STRING:
        return cmp_strings(a, b);
    case KRF_RANK_OBJECT:
        return cmp_objects(a, b);
    case KRF_RANK_ARRAY:
        return cmp_arrays(a, b);
    case KRF_RANK_BOOL:
        return json_is_true(a) - json_is_true(b);
    }
    return 0;
}

int krf_is_operators(const json_t *v)
{
    if (!json_is_object(v) || json_object_size(v) == 0)
        return 0;
    return json_object_iter_key(json_object_iter((json_t *)v))[0] == '$';
}

int krf_index(const char *s, size_t n, size_t *idx)
{
    if (n == 0 || n > 9)
        return 0;
    size_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (size_t)(s[i] - '0');
    }
    *idx = v;
    return 1;
}

int krf_path_ok(const char *path)
{
    if (path == NULL || *path == '\0')
        return 0;
    for (const char *p = path;; p++) {
        const char *dot = strchr(p, '.');
        if (dot == p || (dot == NULL && *p == '\0'))
            return 0;
        if (dot == NULL)
            return 1;
        p = dot;
    }
}

static void push(krf_leaves *l, const json_t *v)
{
    krf_grow(&l->v, &l->cap, l->n, sizeof(*l->v));
    l->v[l->n++] = v;
}

static void walk(const json_t *cur, const char *path, krf_leaves *out);

/* The value `child` was reached and `rest` (NULL at the end) remains. */
static void descend(const json_t *child, const char *rest, krf_leaves *out)
{
    if (rest == NULL) {
        push(out, child);
        return;
    }
    if (json_is_object(child) || json_is_array(child))
        walk(child, rest, out);
    else
        push(out, NULL);
}

static void walk(const json_t *cur, const char *path, krf_leaves *out)
{
    const char *dot = strchr(path, '.');
    size_t len = dot != NULL ? (size_t)(dot - path) : strlen(path);
    const char *rest = dot != NULL ? dot + 1 : NULL;
    if (json_is_object(cur)) {
        const json_t *child = json_object_getn(cur, path, len);
        if (child == NULL)
            push(out, NULL);
        else
            descend(child, rest, out);
        return;
    }
    /* An array: a numeric component picks an element; another component
     * applies to each element that is an object (MongoDB's implicit
     * traversal). Nested arrays are not entered. */
    size_t idx;
    if (krf_index(path, len, &idx)) {
        if (idx < json_array_size(cur))
            descend(json_array_get(cur, idx), rest, out);
        else
            push(out, NULL);
        return;
    }
    size_t i;
    const json_t *el;
    json_array_foreach(cur, i, el)
    {
        if (json_is_object(el))
            walk(el, path, out);
    }
}

int krf_leaves_get(const json_t *doc, const char *path, krf_leaves *out)
{
    if (!krf_path_ok(path))
        return -1;
    if (json_is_object(doc) || json_is_array(doc))
        walk(doc, path, out);
    if (out->n == 0)
        push(out, NULL);
    return 0;
}

void krf_leaves_free(krf_leaves *l)
{
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}
