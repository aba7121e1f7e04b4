/* Fake host: the in-memory document store behind kr_db. Collections are
 * JSON arrays in insertion order (MongoDB's natural order); every operation
 * runs under the DB's one mutex, so each is atomic, as a single-document
 * operation is on the real backends. Arguments are checked before the
 * injected-failure check and before any data is read, so a bad operator is
 * KR_EINVAL even on an empty collection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "value.h"

typedef struct db_index {
    char *name;
    json_t *keys;
    int unique;
} db_index;

struct kr_coll {
    kr_handle h;
    kr_db *db;
    char *name;
    json_t *docs;
    db_index *idx;
    size_t nidx, capidx;
    kr_coll *next;
};

struct kr_db {
    kr_handle h;
    kr_fakehost *fh;
    pthread_mutex_t mu;
    kr_coll *colls;
    int fail_err, fail_times;
    uint64_t seq;
};

kr_db *krf_db_new(kr_fakehost *fh)
{
    kr_db *db = krf_xcalloc(1, sizeof(*db));
    db->h.host = &krf_host;
    db->fh = fh;
    pthread_mutex_init(&db->mu, NULL);
    return db;
}

void krf_db_free(kr_db *db)
{
    if (db == NULL)
        return;
    for (kr_coll *c = db->colls, *next; c != NULL; c = next) {
        next = c->next;
        for (size_t i = 0; i < c->nidx; i++) {
            free(c->idx[i].name);
            json_decref(c->idx[i].keys);
        }
        free(c->idx);
        json_decref(c->docs);
        free(c->name);
        free(c);
    }
    pthread_mutex_destroy(&db->mu);
    free(db);
}

void krf_db_fail(kr_db *db, int err, int times)
{
    pthread_mutex_lock(&db->mu);
    db->fail_err = err;
    db->fail_times = times;
    pthread_mutex_unlock(&db->mu);
}

static int name_ok(const char *name)
{
    if (name == NULL || !((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z')))
        return 0;
    size_t n = strlen(name);
    if (n > 63)
        return 0;
    for (size_t i = 1; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
            return 0;
    }
    return 1;
}

kr_coll *krf_db_coll(kr_db *db, const char *name)
{
    if (!name_ok(name)) {
        krf_fail(KR_EINVAL, "bad collection name '%s'", name != NULL ? name : "(null)");
        return NULL;
    }
    pthread_mutex_lock(&db->mu);
    kr_coll *c;
    for (c = db->colls; c != NULL; c = c->next)
        if (strcmp(c->name, name) == 0)
            break;
    if (c == NULL) {
        c = krf_xcalloc(1, sizeof(*c));
        c->h.host = &krf_host;
        c->db = db;
        c->name = krf_xstrdup(name);
        c->docs = json_array();
        c->next = db->colls;
        db->colls = c;
    }
    pthread_mutex_unlock(&db->mu);
    return c;
}

/* Takes the lock unless an injected failure is due. */
static int enter(kr_coll *c)
{
    int f = krf_take_fault(&c->db->mu, &c->db->fail_err, &c->db->fail_times);
    if (f != 0)
        return krf_fail(f, "fake host: injected DB failure (%s)", kr_strerror(f));
    pthread_mutex_lock(&c->db->mu);
    return 0;
}

static void leave(kr_coll *c)
{
    pthread_mutex_unlock(&c->db->mu);
}

static int check_filter(const json_t *filter)
{
    char err[256] = "";
    json_t *empty = json_object();
    int r = kr_fake_match(filter, empty, err, sizeof(err));
    json_decref(empty);
    return r < 0 ? krf_fail(KR_EINVAL, "%s", err) : 0;
}

/* Operators are checked on a probe document as an insert, so that only
 * problems of the update itself (not of a document) are reported here. */
static int check_update(const json_t *update)
{
    char err[256] = "";
    if (update == NULL)
        return krf_fail(KR_EINVAL, "an update is required");
    json_t *probe = json_object();
    int r = kr_fake_apply_update(probe, update, 1, err, sizeof(err));
    json_decref(probe);
    return r < 0 ? krf_fail(KR_EINVAL, "%s", err) : 0;
}

static int check_doc(const json_t *doc)
{
    if (!json_is_object(doc))
        return krf_fail(KR_EINVAL, "a document must be a JSON object");
    const json_t *id = json_object_get(doc, "_id");
    if (id != NULL && (!json_is_string(id) || json_string_length(id) == 0))
        return krf_fail(KR_EINVAL, "_id must be a non-empty string");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)doc, k, v)
    {
        if (k[0] == '$')
            return krf_fail(KR_EINVAL, "field names cannot start with '$' ('%s')", k);
    }
    return 0;
}

/* Matching documents, in natural order (borrowed from c->docs). */
static const json_t **matching(kr_coll *c, const json_t *filter, size_t *n)
{
    size_t cap = json_array_size(c->docs);
    const json_t **out = krf_xcalloc(cap, sizeof(*out));
    *n = 0;
    size_t i;
    const json_t *d;
    json_array_foreach(c->docs, i, d)
    {
        if (kr_fake_match(filter, d, NULL, 0) == 1)
            out[(*n)++] = d;
    }
    return out;
}

static size_t position(kr_coll *c, const json_t *doc)
{
    size_t i;
    const json_t *d;
    json_array_foreach(c->docs, i, d)
    {
        if (d == doc)
            return i;
    }
    return (size_t)-1;
}

/* Index keys of one field of doc: everything the path reaches, arrays by
 * their elements (a multikey index), a missing field as null. */
static void key_values(const json_t *doc, const char *path, krf_leaves *out)
{
    krf_leaves l = {0};
    krf_leaves_get(doc, path, &l);
    for (size_t i = 0; i < l.n; i++) {
        const json_t *leaf = l.v[i];
        if (json_is_array(leaf) && json_array_size(leaf) > 0) {
            size_t j;
            const json_t *el;
            json_array_foreach(leaf, j, el)
            {
                krf_grow(&out->v, &out->cap, out->n, sizeof(*out->v));
                out->v[out->n++] = el;
            }
        } else {
            krf_grow(&out->v, &out->cap, out->n, sizeof(*out->v));
            out->v[out->n++] = leaf;
        }
    }
    krf_leaves_free(&l);
}

/* Two documents clash on a unique index when some key of one equals some
 * key of the other: with keys the product of each field's values, that is
 * when every field's value sets intersect. */
static int clash(const db_index *ix, const json_t *a, const json_t *b)
{
    const char *path;
    const json_t *dir;
    json_object_foreach(ix->keys, path, dir)
    {
        krf_leaves va = {0}, vb = {0};
        key_values(a, path, &va);
        key_values(b, path, &vb);
        int meet = 0;
        for (size_t i = 0; i < va.n && !meet; i++)
            for (size_t j = 0; j < vb.n && !meet; j++)
                meet = krf_compare(va.v[i], vb.v[j]) == 0;
        krf_leaves_free(&va);
        krf_leaves_free(&vb);
        if (!meet)
            return 0;
    }
    return 1;
}

/* Whether `doc` (the new version of the document at `pos`, or a new one at
 * pos == -1) may join the collection. */
static int check_unique(kr_coll *c, const json_t *doc, size_t pos)
{
    size_t i;
    const json_t *d;
    json_array_foreach(c->docs, i, d)
    {
        if (i == pos)
            continue;
        if (pos == (size_t)-1 && json_equal(json_object_get(d, "_id"), json_object_get(doc, "_id")))
            return krf_fail(KR_EDUPLICATE, "duplicate _id '%s' in %s", json_string_value(json_object_get(doc, "_id")),
                            c->name);
        for (size_t k = 0; k < c->nidx; k++)
            if (c->idx[k].unique && clash(&c->idx[k], doc, d))
                return krf_fail(KR_EDUPLICATE, "duplicate key for unique index '%s' of %s", c->idx[k].name, c->name);
    }
    return 0;
}

static char *new_id(kr_db *db)
{
    char id[32];
    snprintf(id, sizeof(id), "%08x%016llx", (unsigned)(krf_now_ms(db->fh) / 1000), (unsigned long long)++db->seq);
    return krf_xstrdup(id);
}

/* Adds doc (stolen) with an _id first, generated when absent. */
static int insert_locked(kr_coll *c, json_t *doc, char **id_out)
{
    if (json_object_get(doc, "_id") == NULL) {
        char *id = new_id(c->db);
        json_t *with_id = json_pack("{ss}", "_id", id);
        free(id);
        json_object_update(with_id, doc);
        json_decref(doc);
        doc = with_id;
    }
    int rc = check_doc(doc);
    if (rc == 0)
        rc = check_unique(c, doc, (size_t)-1);
    if (rc != 0) {
        json_decref(doc);
        return rc;
    }
    if (id_out != NULL)
        *id_out = krf_xstrdup(json_string_value(json_object_get(doc, "_id")));
    json_array_append_new(c->docs, doc);
    return 0;
}

int krf_db_find(kr_coll *c, const json_t *filter, const json_t *sort, const json_t *projection, int64_t skip,
                int64_t limit, json_t **out)
{
    char err[256] = "";
    *out = NULL;
    if (skip < 0 || limit < 0)
        return krf_fail(KR_EINVAL, "skip and limit cannot be negative");
    if (krf_sort_check(sort, err, sizeof(err)) != 0 || krf_projection_check(projection, err, sizeof(err)) != 0)
        return krf_fail(KR_EINVAL, "%s", err);
    int rc = check_filter(filter);
    if (rc == 0)
        rc = enter(c);
    if (rc != 0)
        return rc;
    size_t n;
    const json_t **m = matching(c, filter, &n);
    krf_sort(m, n, sort);
    *out = json_array();
    for (size_t i = (size_t)skip; i < n && (limit == 0 || i < (size_t)skip + (size_t)limit); i++)
        json_array_append_new(*out, krf_project(m[i], projection));
    free(m);
    leave(c);
    return 0;
}

int krf_db_find_one(kr_coll *c, const json_t *filter, const json_t *sort, const json_t *projection, json_t **out)
{
    json_t *all;
    *out = NULL;
    int rc = krf_db_find(c, filter, sort, projection, 0, 1, &all);
    if (rc != 0)
        return rc;
    if (json_array_size(all) == 0) {
        json_decref(all);
        return krf_fail(KR_ENOTFOUND, "no document in %s matches", c->name);
    }
    *out = json_incref(json_array_get(all, 0));
    json_decref(all);
    return 0;
}

int krf_db_insert_one(kr_coll *c, const json_t *doc, char **id_out)
{
    if (id_out != NULL)
        *id_out = NULL;
    int rc = check_doc(doc);
    if (rc == 0)
        rc = enter(c);
    if (rc != 0)
        return rc;
    rc = insert_locked(c, json_deep_copy(doc), id_out);
    leave(c);
    return rc;
}

/* Inserts what an upsert builds; *inserted (borrowed) is the new doc. */
static int upsert_locked(kr_coll *c, const json_t *filter, const json_t *update, char **id_out, const json_t **inserted)
{
    char err[256] = "";
    json_t *doc;
    if (kr_fake_upsert_doc(filter, update, &doc, err, sizeof(err)) != 0)
        return krf_fail(KR_EINVAL, "%s", err);
    int rc = insert_locked(c, doc, id_out);
    if (rc == 0)
        *inserted = json_array_get(c->docs, json_array_size(c->docs) - 1);
    return rc;
}

/* Updates the document at pos; *changed says whether it differs. */
static int update_locked(kr_coll *c, size_t pos, const json_t *update, int *changed)
{
    char err[256] = "";
    json_t *next = json_deep_copy(json_array_get(c->docs, pos));
    int r = kr_fake_apply_update(next, update, 0, err, sizeof(err));
    if (r < 0) {
        json_decref(next);
        return krf_fail(KR_EINVAL, "%s", err);
    }
    int rc = r == 1 ? check_unique(c, next, pos) : 0;
    if (rc == 0 && r == 1)
        json_array_set(c->docs, pos, next);
    json_decref(next);
    *changed = r == 1;
    return rc;
}

int krf_db_update(kr_coll *c, const json_t *filter, const json_t *update, unsigned flags, int many,
                  kr_update_result *res)
{
    kr_update_result r = {0, 0, NULL};
    int rc = check_filter(filter);
    if (rc == 0)
        rc = check_update(update);
    if (rc == 0)
        rc = enter(c);
    if (rc != 0)
        return rc;
    size_t n;
    const json_t **m = matching(c, filter, &n);
    if (n == 0 && (flags & KR_DB_UPSERT)) {
        const json_t *inserted;
        rc = upsert_locked(c, filter, update, &r.upserted_id, &inserted);
    }
    /* update_many is not atomic across documents on the real backends
     * either: documents before a failing one stay updated. */
    for (size_t i = 0; rc == 0 && i < n && (many || i == 0); i++) {
        int changed;
        rc = update_locked(c, position(c, m[i]), update, &changed);
        if (rc == 0) {
            r.matched++;
            r.modified += changed;
        }
    }
    free(m);
    leave(c);
    if (res != NULL)
        *res = r;
    else
        free(r.upserted_id);
    return rc;
}

int krf_db_find_one_and_update(kr_coll *c, const json_t *filter, const json_t *update, const json_t *sort,
                               unsigned flags, json_t **out)
{
    char err[256] = "";
    *out = NULL;
    if (krf_sort_check(sort, err, sizeof(err)) != 0)
        return krf_fail(KR_EINVAL, "%s", err);
    int rc = check_filter(filter);
    if (rc == 0)
        rc = check_update(update);
    if (rc == 0)
        rc = enter(c);
    if (rc != 0)
        return rc;
    size_t n;
    const json_t **m = matching(c, filter, &n);
    krf_sort(m, n, sort);
    if (n == 0 && (flags & KR_DB_UPSERT)) {
        const json_t *inserted;
        rc = upsert_locked(c, filter, update, NULL, &inserted);
        if (rc == 0 && (flags & KR_DB_RETURN_AFTER))
            *out = json_deep_copy(inserted);
    } else if (n == 0) {
        rc = krf_fail(KR_ENOTFOUND, "no document in %s matches", c->name);
    } else {
        size_t pos = position(c, m[0]);
        json_t *before = json_deep_copy(m[0]);
        int changed;
        rc = update_locked(c, pos, update, &changed);
        if (rc == 0)
            *out = (flags & KR_DB_RETURN_AFTER) ? json_deep_copy(json_array_get(c->docs, pos)) : json_incref(before);
        json_decref(before);
    }
    free(m);
    leave(c);
    return rc;
}

int krf_db_delete(kr_coll *c, const json_t *filter, int many, int64_t *deleted)
{
    if (deleted != NULL)
        *deleted = 0;
    int rc = check_filter(filter);
    if (rc == 0)
        rc = enter(c);
    if (rc != 0)
        return rc;
    int64_t n = 0;
    for (size_t i = 0; i < json_array_size(c->docs);) {
        if (kr_fake_match(filter, json_array_get(c->docs, i), NULL, 0) == 1 && (many || n == 0)) {
            json_array_remove(c->docs, i);
            n++;
        } else {
            i++;
        }
    }
    leave(c);
    if (deleted != NULL)
        *deleted = n;
    return 0;
}

int krf_db_count(kr_coll *c, const json_t *filter, int64_t *n)
{
    *n = 0;
    int rc = check_filter(filter);
    if (rc == 0)
        rc = enter(c);
    if (rc != 0)
        return rc;
    size_t k;
    const json_t **m = matching(c, filter, &k);
    free(m);
    leave(c);
    *n = (int64_t)k;
    return 0;
}

/* MongoDB's default index name: field_1_other_-1. */
static char *index_name(const json_t *keys)
{
    size_t cap = 1;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)keys, k, v) cap += strlen(k) + 4;
    char *name = krf_xcalloc(1, cap);
    json_object_foreach((json_t *)keys, k, v)
    {
        if (name[0] != '\0')
            strcat(name, "_");
        strcat(name, k);
        strcat(name, json_number_value(v) < 0 ? "_-1" : "_1");
    }
    return name;
}

int krf_db_create_index(kr_coll *c, const json_t *keys, unsigned flags, const char *name)
{
    char err[256] = "";
    if (!json_is_object(keys) || json_object_size(keys) == 0 || krf_sort_check(keys, err, sizeof(err)) != 0)
        return krf_fail(KR_EINVAL, "index keys must be {field: 1 | -1, ...}%s%s", err[0] ? ": " : "", err);
    int rc = enter(c);
    if (rc != 0)
        return rc;
    char *nm = name != NULL ? krf_xstrdup(name) : index_name(keys);
    int unique = (flags & KR_DB_UNIQUE) != 0;
    for (size_t i = 0; i < c->nidx; i++) {
        if (strcmp(c->idx[i].name, nm) != 0)
            continue;
        if (!json_equal(c->idx[i].keys, keys) || c->idx[i].unique != unique)
            rc = krf_fail(KR_ECONFLICT, "index '%s' of %s exists with other keys or options", nm, c->name);
        free(nm);
        leave(c);
        return rc;
    }
    db_index ix = {nm, json_deep_copy(keys), unique};
    for (size_t i = 0; unique && rc == 0 && i < json_array_size(c->docs); i++)
        for (size_t j = i + 1; rc == 0 && j < json_array_size(c->docs); j++)
            if (clash(&ix, json_array_get(c->docs, i), json_array_get(c->docs, j)))
                rc = krf_fail(KR_EDUPLICATE, "cannot create unique index '%s': %s holds duplicates", nm, c->name);
    if (rc == 0) {
        krf_grow(&c->idx, &c->capidx, c->nidx, sizeof(*c->idx));
        c->idx[c->nidx++] = ix;
    } else {
        free(nm);
        json_decref(ix.keys);
    }
    leave(c);
    return rc;
}
