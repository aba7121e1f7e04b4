/* Fake host: sort specs and sorting documents as MongoDB does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "value.h"

int krf_sort_check(const json_t *sort, char *err, size_t errlen)
{
    if (sort == NULL)
        return 0;
    if (!json_is_object(sort)) {
        snprintf(err, errlen, "a sort must be a JSON object");
        return KR_EINVAL;
    }
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)sort, k, v)
    {
        if (k[0] == '$' || !krf_path_ok(k)) {
            snprintf(err, errlen, "unsupported sort key '%s'", k);
            return KR_EINVAL;
        }
        if (!json_is_number(v) || (json_number_value(v) != 1 && json_number_value(v) != -1)) {
            snprintf(err, errlen, "sort on '%s' must be 1 or -1", k);
            return KR_EINVAL;
        }
    }
    return 0;
}

typedef struct spec {
    size_t nkeys;
    int *dir;
} spec;

typedef struct row {
    const json_t *doc;
    size_t pos;
    const json_t **keys;
    const spec *spec;
} row;

/* The value a document sorts by on one key: over everything the path
 * reaches (arrays by their elements), the smallest ascending or the largest
 * descending. */
static const json_t *sort_key(const json_t *doc, const char *path, int dir)
{
    krf_leaves l = {0};
    krf_leaves_get(doc, path, &l);
    const json_t *best = NULL;
    int have = 0;
    for (size_t i = 0; i < l.n; i++) {
        const json_t *leaf = l.v[i];
        if (json_is_array(leaf) && json_array_size(leaf) > 0) {
            size_t j;
            const json_t *el;
            json_array_foreach(leaf, j, el)
            {
                if (!have || krf_compare(el, best) * dir < 0)
                    best = el;
                have = 1;
            }
        } else {
            const json_t *v = json_is_array(leaf) ? NULL : leaf;
            if (!have || krf_compare(v, best) * dir < 0)
                best = v;
            have = 1;
        }
    }
    krf_leaves_free(&l);
    return best;
}

static int cmp_rows(const void *a, const void *b)
{
    const row *x = a, *y = b;
    const spec *s = x->spec;
    for (size_t k = 0; k < s->nkeys; k++) {
        int c = krf_compare(x->keys[k], y->keys[k]) * s->dir[k];
        if (c != 0)
            return c;
    }
    return (x->pos > y->pos) - (x->pos < y->pos);
}

void krf_sort(const json_t **docs, size_t n, const json_t *sort)
{
    if (sort == NULL || json_object_size(sort) == 0 || n < 2)
        return;
    spec s = {json_object_size(sort), NULL};
    s.dir = krf_xcalloc(s.nkeys, sizeof(*s.dir));
    row *rows = krf_xcalloc(n, sizeof(*rows));
    for (size_t i = 0; i < n; i++) {
        rows[i].doc = docs[i];
        rows[i].pos = i;
        rows[i].spec = &s;
        rows[i].keys = krf_xcalloc(s.nkeys, sizeof(*rows[i].keys));
        size_t k = 0;
        const char *path;
        const json_t *v;
        json_object_foreach((json_t *)sort, path, v)
        {
            s.dir[k] = json_number_value(v) < 0 ? -1 : 1;
            rows[i].keys[k] = sort_key(docs[i], path, s.dir[k]);
            k++;
        }
    }
    qsort(rows, n, sizeof(*rows), cmp_rows);
    for (size_t i = 0; i < n; i++) {
        docs[i] = rows[i].doc;
        free(rows[i].keys);
    }
    free(rows);
    free(s.dir);
}
