/* Core: kr_db handles, argument checks and dispatch to the backend that the
 * URI scheme names. */
#include "core/db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db/backend.h"
#include "core/util/err.h"
#include "core/util/thread.h"

typedef struct scheme {
    const char *prefix;
    const krc_db_backend *be;
} scheme;

static const scheme schemes[] = {
    {"postgresql://", &krc_db_pg_backend},
    {"postgres://", &krc_db_pg_backend},
    {"mongodb://", &krc_db_mongo_backend},
    {"mongodb+srv://", &krc_db_mongo_backend},
};

krc_db *krc_db_open(const char *uri, const krc_db_opts *opts, const kr_host *host, char *err, size_t errlen)
{
    krc_db_opts o = {.pool_size = 10, .timeout_ms = 5000};
    if (opts != NULL && opts->pool_size > 0)
        o.pool_size = opts->pool_size;
    if (opts != NULL && opts->timeout_ms > 0)
        o.timeout_ms = opts->timeout_ms;
    if (uri == NULL || uri[0] == '\0') {
        snprintf(err, errlen, "db.uri is empty");
        return NULL;
    }
    const scheme *s = NULL;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
        if (strncmp(uri, schemes[i].prefix, strlen(schemes[i].prefix)) == 0)
            s = &schemes[i];
    if (s == NULL) {
        snprintf(err, errlen, "db.uri: unknown scheme (expected postgresql:// or mongodb://)");
        return NULL;
    }
    krc_db *db = calloc(1, sizeof(*db));
    if (db == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    db->handle.host = host;
    db->be = s->be;
    pthread_mutex_init(&db->lock, NULL);
    db->impl = s->be->open(uri, &o, err, errlen);
    if (db->impl == NULL) {
        pthread_mutex_destroy(&db->lock);
        free(db);
        return NULL;
    }
    return db;
}

void krc_db_close(krc_db *db)
{
    if (db == NULL)
        return;
    for (kr_coll *c = db->colls, *next; c != NULL; c = next) {
        next = c->next;
        db->be->coll_close(c->impl);
        free(c);
    }
    db->be->close(db->impl);
    pthread_mutex_destroy(&db->lock);
    free(db);
}

int krc_db_ready(krc_db *db, char *msg, size_t msglen)
{
    KRC_ASSERT_MAY_BLOCK();
    return db->be->ready(db->impl, msg, msglen);
}

kr_db *krc_db_handle(krc_db *db)
{
    return (kr_db *)db;
}

/* [A-Za-z][A-Za-z0-9_]{0,62}, as db.h promises. */
static int coll_name_ok(const char *name)
{
    size_t n = name != NULL ? strlen(name) : 0;
    if (n == 0 || n > 63)
        return 0;
    if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z')))
        return 0;
    for (size_t i = 1; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_'))
            return 0;
    }
    return 1;
}

static kr_coll *h_coll(kr_db *handle, const char *name)
{
    krc_db *db = (krc_db *)handle;
    if (db == NULL) {
        krc_err_set(KR_EINVAL, "kr_db_coll: no database");
        return NULL;
    }
    if (!coll_name_ok(name)) {
        krc_err_set(KR_EINVAL, "kr_db_coll: bad collection name \"%.80s\" (expected [A-Za-z][A-Za-z0-9_]{0,62})",
                    name != NULL ? name : "(null)");
        return NULL;
    }
    pthread_mutex_lock(&db->lock);
    kr_coll *c = db->colls;
    while (c != NULL && strcmp(c->name, name) != 0)
        c = c->next;
    if (c == NULL && (c = calloc(1, sizeof(*c))) != NULL) {
        c->handle.host = db->handle.host;
        c->db = db;
        snprintf(c->name, sizeof(c->name), "%s", name);
        c->impl = db->be->coll_open(db->impl, c);
        if (c->impl == NULL) {
            free(c);
            c = NULL;
        } else {
            c->next = db->colls;
            db->colls = c;
        }
    }
    pthread_mutex_unlock(&db->lock);
    if (c == NULL)
        krc_err_set(KR_ENOMEM, "kr_db_coll: out of memory");
    return c;
}

static int check_coll(const kr_coll *c, const char *fn)
{
    if (c == NULL)
        return krc_err_set(KR_EINVAL, "%s: no collection", fn);
    return 0;
}

static int check_filter(const json_t *filter, const char *fn)
{
    if (filter != NULL && !json_is_object(filter))
        return krc_err_set(KR_EINVAL, "%s: the filter must be a JSON object", fn);
    return 0;
}

static int h_find(kr_coll *c, const json_t *filter, const json_t *sort, const json_t *projection, int64_t skip,
                  int64_t limit, json_t **out)
{
    KRC_ASSERT_MAY_BLOCK();
    if (out == NULL)
        return krc_err_set(KR_EINVAL, "kr_db_find: out is NULL");
    *out = NULL;
    int rc = check_coll(c, "kr_db_find");
    if (rc == 0)
        rc = check_filter(filter, "kr_db_find");
    if (rc == 0 && (skip < 0 || limit < 0))
        rc = krc_err_set(KR_EINVAL, "kr_db_find: skip and limit must not be negative");
    if (rc != 0)
        return rc;
    return c->db->be->find(c, filter, sort, projection, skip, limit, out);
}

static int h_find_one(kr_coll *c, const json_t *filter, const json_t *sort, const json_t *projection, json_t **out)
{
    KRC_ASSERT_MAY_BLOCK();
    if (out == NULL)
        return krc_err_set(KR_EINVAL, "kr_db_find_one: out is NULL");
    *out = NULL;
    int rc = check_coll(c, "kr_db_find_one");
    if (rc == 0)
        rc = check_filter(filter, "kr_db_find_one");
    json_t *all = NULL;
    if (rc == 0)
        rc = c->db->be->find(c, filter, sort, projection, 0, 1, &all);
    if (rc != 0)
        return rc;
    if (json_array_size(all) == 0) {
        json_decref(all);
        return krc_err_set(KR_ENOTFOUND, "no document in %s matches the filter", c->name);
    }
    *out = json_incref(json_array_get(all, 0));
    json_decref(all);
    return 0;
}

static int h_insert_one(kr_coll *c, const json_t *doc, char **id_out)
{
    KRC_ASSERT_MAY_BLOCK();
    if (id_out != NULL)
        *id_out = NULL;
    int rc = check_coll(c, "kr_db_insert_one");
    if (rc != 0)
        return rc;
    if (!json_is_object(doc))
        return krc_err_set(KR_EINVAL, "kr_db_insert_one: the document must be a JSON object");
    return c->db->be->insert_one(c, doc, id_out);
}

static int h_update(kr_coll *c, const json_t *filter, const json_t *update, unsigned flags, int many,
                    kr_update_result *res)
{
    KRC_ASSERT_MAY_BLOCK();
    if (res != NULL)
        memset(res, 0, sizeof(*res));
    const char *fn = many ? "kr_db_update_many" : "kr_db_update_one";
    int rc = check_coll(c, fn);
    if (rc == 0)
        rc = check_filter(filter, fn);
    if (rc == 0 && !json_is_object(update))
        rc = krc_err_set(KR_EINVAL, "%s: the update must be a JSON object", fn);
    if (rc == 0 && (flags & ~(unsigned)KR_DB_UPSERT) != 0)
        rc = krc_err_set(KR_EINVAL, "%s: unknown flags 0x%x", fn, flags);
    if (rc != 0)
        return rc;
    kr_update_result ignored;
    return c->db->be->update(c, filter, update, flags, many, res != NULL ? res : &ignored);
}

static int h_find_one_and_update(kr_coll *c, const json_t *filter, const json_t *update, const json_t *sort,
                                 unsigned flags, json_t **out)
{
    KRC_ASSERT_MAY_BLOCK();
    const char *fn = "kr_db_find_one_and_update";
    if (out == NULL)
        return krc_err_set(KR_EINVAL, "%s: out is NULL", fn);
    *out = NULL;
    int rc = check_coll(c, fn);
    if (rc == 0)
        rc = check_filter(filter, fn);
    if (rc == 0 && !json_is_object(update))
        rc = krc_err_set(KR_EINVAL, "%s: the update must be a JSON object", fn);
    if (rc == 0 && (flags & ~(unsigned)(KR_DB_UPSERT | KR_DB_RETURN_AFTER)) != 0)
        rc = krc_err_set(KR_EINVAL, "%s: unknown flags 0x%x", fn, flags);
    if (rc != 0)
        return rc;
    return c->db->be->find_one_and_update(c, filter, update, sort, flags, out);
}

static int h_delete(kr_coll *c, const json_t *filter, int many, int64_t *deleted)
{
    KRC_ASSERT_MAY_BLOCK();
    if (deleted != NULL)
        *deleted = 0;
    const char *fn = many ? "kr_db_delete_many" : "kr_db_delete_one";
    int rc = check_coll(c, fn);
    if (rc == 0)
        rc = check_filter(filter, fn);
    if (rc != 0)
        return rc;
    int64_t ignored;
    return c->db->be->delete (c, filter, many, deleted != NULL ? deleted : &ignored);
}

static int h_count(kr_coll *c, const json_t *filter, int64_t *n)
{
    KRC_ASSERT_MAY_BLOCK();
    if (n == NULL)
        return krc_err_set(KR_EINVAL, "kr_db_count: n is NULL");
    *n = 0;
    int rc = check_coll(c, "kr_db_count");
    if (rc == 0)
        rc = check_filter(filter, "kr_db_count");
    if (rc != 0)
        return rc;
    return c->db->be->count(c, filter, n);
}

static int h_create_index(kr_coll *c, const json_t *keys, unsigned flags, const char *name)
{
    KRC_ASSERT_MAY_BLOCK();
    int rc = check_coll(c, "kr_db_create_index");
    if (rc != 0)
        return rc;
    if (!json_is_object(keys) || json_object_size(keys) == 0)
        return krc_err_set(KR_EINVAL, "kr_db_create_index: keys must be a non-empty JSON object");
    if ((flags & ~(unsigned)KR_DB_UNIQUE) != 0)
        return krc_err_set(KR_EINVAL, "kr_db_create_index: unknown flags 0x%x", flags);
    return c->db->be->create_index(c, keys, flags, name);
}

void krc_db_host_fill(kr_host *h)
{
    h->db_coll = h_coll;
    h->db_find = h_find;
    h->db_find_one = h_find_one;
    h->db_insert_one = h_insert_one;
    h->db_update = h_update;
    h->db_find_one_and_update = h_find_one_and_update;
    h->db_delete = h_delete;
    h->db_count = h_count;
    h->db_create_index = h_create_index;
}
