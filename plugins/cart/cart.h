/* cart.so internals: the pieces the plugin's files share. */
#ifndef KIRANA_CART_H
#define KIRANA_CART_H

#include <pthread.h>
#include <kirana/kirana.h>

#include "cart_key.h"
#include "../product/product_doc.h"

/* A quantity a request may carry at all; larger is a 400, whatever the
 * configured per-line maximum (which makes it a 409). The config schema
 * caps max_qty_per_item at the same number. */
#define CART_QTY_INPUT_MAX 1000000

typedef struct cart_state {
    kr_plugin_ctx *ctx;  /* for logs */
    kr_coll *products;   /* borrowed */
    kr_redis *redis;     /* borrowed */
    long long ttl_ms;    /* sliding idle expiry of a cart */
    long long max_qty;   /* per line */
    long long max_lines; /* distinct products */
    pthread_mutex_t sha_lock;
    char sha[41]; /* of the change script once loaded, else "" */
} cart_state;

/* One line as stored: product id and quantity. */
typedef struct cart_line {
    char *product_id; /* owned by the cart_lines */
    long long qty;
} cart_line;

/* Lines sorted by product id, so answers are stable. */
typedef struct cart_lines {
    cart_line *v;
    size_t n;
} cart_lines;

void cart_lines_free(cart_lines *l);

/* --- validation (validate.c): pure --- */

/* POST /cart/items {product_id, qty}: qty 1..CART_QTY_INPUT_MAX. Strings
 * are borrowed from body. 0, or KR_EINVAL with entries in *errors. */
int cart_validate_add(const json_t *body, const char **product_id, long long *qty, json_t **errors);
/* PUT /cart/items/{id} {qty}: qty 0..CART_QTY_INPUT_MAX (0 removes). */
int cart_validate_set(const json_t *body, long long *qty, json_t **errors);

/* --- Redis (store.c): worker threads --- */

typedef enum cart_verdict {
    CART_OK = 0,
    CART_OVER_MAX_QTY = 1, /* resulting qty above max_qty */
    CART_OVER_STOCK = 2,   /* resulting qty above the stock given */
    CART_FULL = 3,         /* a new line beyond max_lines */
} cart_verdict;

typedef enum cart_mode {
    CART_ADD, /* qty is added to the line */
    CART_SET, /* the line becomes qty; 0 removes it */
} cart_mode;

/* Outcome of one atomic change. */
typedef struct cart_outcome {
    cart_verdict verdict;
    long long qty;    /* the resulting (or refused) quantity of the line */
    cart_lines lines; /* the whole cart after the change (CART_OK only) */
} cart_outcome;

/* The user's lines; renews the cart's expiry. */
int cart_store_load(cart_state *st, const char *user_id, cart_lines *out);
/* Checks and applies one change in a single atomic step in Redis, so
 * concurrent changes to one cart never lose an update. stock bounds the
 * resulting quantity (ignored when it is 0 and so is qty). */
int cart_store_change(cart_state *st, const char *user_id, const char *product_id, cart_mode mode, long long qty,
                      long long stock, cart_outcome *out);
/* Deletes the cart. */
int cart_store_clear(cart_state *st, const char *user_id);
/* Decodes the script's reply {verdict, qty, [field, value, ...]}: exposed
 * for unit tests. KR_EINTERNAL for any other shape. */
int cart_outcome_from_reply(const kr_redis_reply *r, cart_outcome *out);
/* Lines from a flat HGETALL array; values that are not integers >= 1
 * cannot come from this plugin and are skipped. */
int cart_lines_from_reply(const kr_redis_reply *r, cart_lines *out);

/* --- catalogue (catalog.c): kr_db, worker threads --- */

/* The fields a cart needs of one product; KR_ENOTFOUND if none. */
int cart_catalog_get(cart_state *st, const char *product_id, json_t **doc);
/* One read for all the lines: an object product id → document (missing
 * ids absent). */
int cart_catalog_batch(cart_state *st, const cart_lines *lines, json_t **by_id);
/* 1 when doc is an active product. */
int cart_product_active(const json_t *doc);

/* --- view (view.c): pure --- */

/* {items: [{product_id, name, price, qty, line_total, available}], total,
 * currency: "INR"}; unavailable lines are left out of total. */
json_t *cart_view(const cart_lines *lines, const json_t *by_id);

/* --- handlers (handlers.c) --- */

int cart_h_get(kr_req *req, void *udata);
int cart_h_add(kr_req *req, void *udata);
int cart_h_set(kr_req *req, void *udata);
int cart_h_remove(kr_req *req, void *udata);
int cart_h_clear(kr_req *req, void *udata);

#endif
