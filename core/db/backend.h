/* Core: what a document-store backend provides.
 *
 * core/db/db.c owns the handles, checks arguments and dispatches on the URI
 * scheme to one of these tables; a backend implements the operations with
 * the semantics documented in sdk/include/kirana/db.h. Operations run on
 * worker threads and block; arguments arrive checked (non-NULL collection,
 * filter an object or NULL, out pointers non-NULL and cleared). */
#ifndef KRC_DB_BACKEND_H
#define KRC_DB_BACKEND_H

#include <pthread.h>
#include <stddef.h>

#include "core/db/db.h"
#include "kirana/db.h"

typedef struct krc_db_backend krc_db_backend;

/* Both handles start with kr_handle so plugins can pass them to the SDK. */
struct krc_db {
    kr_handle handle;
    const krc_db_backend *be;
    void *impl;           /* backend state */
    pthread_mutex_t lock; /* guards colls */
    struct kr_coll *colls;
};

struct kr_coll {
    kr_handle handle;
    krc_db *db;
    void *impl; /* backend state for this collection */
    struct kr_coll *next;
    char name[64];
};

struct krc_db_backend {
    const char *name;
    /* main. Backend state, or NULL with a reason in err. Must not contact
     * the server. */
    void *(*open)(const char *uri, const krc_db_opts *opts, char *err, size_t errlen);
    /* main, at exit. */
    void (*close)(void *impl);
    /* worker. 0 or KR_EUNAVAILABLE with a reason in msg. */
    int (*ready)(void *impl, char *msg, size_t msglen);
    /* any thread. Per-collection state for c (name set, impl NULL), or NULL
     * on ENOMEM. Must not contact the server. */
    void *(*coll_open)(void *impl, const kr_coll *c);
    /* main, at exit. */
    void (*coll_close)(void *coll_impl);

    /* worker. As the kr_db_* functions of the same name; find with limit 1
     * also serves kr_db_find_one. */
    int (*find)(kr_coll *c, const json_t *filter, const json_t *sort, const json_t *projection, int64_t skip,
                int64_t limit, json_t **out);
    int (*insert_one)(kr_coll *c, const json_t *doc, char **id_out);
    int (*update)(kr_coll *c, const json_t *filter, const json_t *update, unsigned flags, int many,
                  kr_update_result *res);
    int (*find_one_and_update)(kr_coll *c, const json_t *filter, const json_t *update, const json_t *sort,
                               unsigned flags, json_t **out);
    int (*delete)(kr_coll *c, const json_t *filter, int many, int64_t *deleted);
    int (*count)(kr_coll *c, const json_t *filter, int64_t *n);
    int (*create_index)(kr_coll *c, const json_t *keys, unsigned flags, const char *name);
};

/* The PostgreSQL backend (core/db/pg.c). */
extern const krc_db_backend krc_db_pg_backend;
/* The MongoDB backend (core/db/mongo.c). */
extern const krc_db_backend krc_db_mongo_backend;

#endif
