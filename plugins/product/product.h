/* product.so internals: the pieces the plugin's files share. */
#ifndef KIRANA_PRODUCT_H
#define KIRANA_PRODUCT_H

#include <kirana/kirana.h>

#include "product_doc.h"

typedef struct product_state {
    kr_coll *coll; /* borrowed from the host */
} product_state;

/* --- validation (validate.c): pure, no I/O --- */

/* Limits of a list request. */
#define PRODUCT_LIMIT_DEFAULT 20
#define PRODUCT_LIMIT_MAX 100
#define PRODUCT_Q_MAX 100

/* Keyset position: the sort key (name, _id) of the last item of a page. */
typedef struct product_cursor {
    char *name; /* caller-owned (free()) */
    char *id;   /* caller-owned (free()) */
} product_cursor;

/* A validated GET /products query. Strings are borrowed from the request. */
typedef struct product_list_query {
    const char *q;        /* NULL: no name search */
    const char *category; /* NULL: any category */
    int limit;
    int include_inactive;
    int has_cursor;
    product_cursor after; /* when has_cursor; free with product_cursor_free */
} product_list_query;

/* Each takes the raw query values (NULL when absent). 0, or KR_EINVAL with
 * {field, message} entries appended to *errors. */
int product_parse_list_query(const char *q, const char *category, const char *limit, const char *cursor,
                             const char *include_inactive, product_list_query *out, json_t **errors);
void product_list_query_free(product_list_query *lq);

/* POST /products body → the document fields the admin may set, defaults
 * applied (stock 0, active true). *fields caller-owned. */
int product_validate_create(const json_t *body, json_t **fields, json_t **errors);
/* PATCH body → fields to $set and optional fields to $unset (null given).
 * Both caller-owned, possibly empty. */
int product_validate_patch(const json_t *body, json_t **set, json_t **unset, json_t **errors);
/* POST /products/{id}/stock body → a non-zero delta. */
int product_validate_restock(const json_t *body, json_int_t *delta, json_t **errors);

/* --- cursor (cursor.c) --- */

/* Opaque text for a position: base64url of the JSON array [name, id].
 * Caller-owned (free()); NULL on ENOMEM. */
char *product_cursor_encode(const char *name, const char *id);
/* 0, or KR_EINVAL for text that product_cursor_encode did not make. */
int product_cursor_decode(const char *text, product_cursor *out);
void product_cursor_free(product_cursor *c);

/* --- views (view.c) --- */

/* The JSON a client sees for a stored document: the public view, or with
 * admin the stock bookkeeping and status as well. Caller-owned. */
json_t *product_view(const json_t *doc, int admin);
/* A projection leaving out the fields only admins see (caller-owned; NULL
 * on ENOMEM): what a public view needs. */
json_t *product_public_projection(void);

/* --- storage (store.c): kr_db calls, worker threads --- */

/* Creates the indexes the list queries use. */
int product_store_indexes(product_state *st);
/* The document with that id: for an admin the whole document, inactive or
 * not; else the public fields of an active one. KR_ENOTFOUND otherwise.
 * *out caller-owned. */
int product_store_get(product_state *st, const char *id, int admin, json_t **out);
/* One page of documents in (name, _id) order; *more is 1 when another page
 * follows. admin: full documents, else the public projection. */
int product_store_list(product_state *st, const product_list_query *lq, int admin, json_t **items, int *more);
/* Inserts a new product from validated fields; *out is the stored document. */
int product_store_create(product_state *st, const json_t *fields, json_t **out);
/* Applies a validated patch; *out is the document after it. */
int product_store_patch(product_state *st, const char *id, const json_t *set, const json_t *unset, json_t **out);
/* active: false. KR_ENOTFOUND for an unknown id. */
int product_store_deactivate(product_state *st, const char *id);
/* Adds delta to stock unless the result leaves 0..PRODUCT_STOCK_MAX:
 * KR_ECONFLICT with the current stock in *stock_now then. *out is the
 * document after the change. */
int product_store_restock(product_state *st, const char *id, json_int_t delta, json_t **out, json_int_t *stock_now);
/* The pattern matching s literally (every ASCII punctuation escaped), for
 * $regex. Caller-owned (free()); NULL on ENOMEM. */
char *product_regex_escape(const char *s);

/* --- handlers (handlers.c) --- */

int product_h_list(kr_req *req, void *udata);
int product_h_get(kr_req *req, void *udata);
int product_h_create(kr_req *req, void *udata);
int product_h_patch(kr_req *req, void *udata);
int product_h_delete(kr_req *req, void *udata);
int product_h_restock(kr_req *req, void *udata);

#endif
