/* order.so internals: the pieces the plugin's files share.
 *
 * Orders follow DESIGN.md "Orders and stock": every status change is one
 * guarded atomic update of the order document (the decision), and its
 * effects on products are per-line updates that are idempotent because
 * each one is guarded by the presence of this order's hold or commit on
 * the product. Whoever finds an effect undone — the request, the worker,
 * the reconciler — may run it again. */
#ifndef KIRANA_ORDER_H
#define KIRANA_ORDER_H

#include <pthread.h>
#include <stdint.h>
#include <kirana/kirana.h>

#include "../cart/cart_key.h"
#include "../product/product_doc.h"

#define ORDER_COLL "orders"
#define ORDER_IDEM_COLL "order_idempotency"

/* Order document fields (the order body of DESIGN.md plus bookkeeping). */
#define OD_ID "_id"
#define OD_USER "user_id"
#define OD_STATUS "status"
#define OD_VERSION "version" /* count of status changes */
#define OD_HISTORY "history" /* [{status, at}]: entry i is version i */
#define OD_ITEMS "items"     /* [{product_id, name, price, qty, line_total}] */
#define OD_TOTAL "total"
#define OD_CURRENCY "currency"
#define OD_ADDRESS "address"
#define OD_NOTE "note"
#define OD_CANCEL_REASON "cancel_reason"
#define OD_SHORTFALL "shortfall"    /* [{product_id, requested, available}] of an out_of_stock order */
#define OD_FINALIZED "finalized_at" /* set once the worker's work is done */
#define OD_CREATED "created_at"
#define OD_UPDATED "updated_at"

#define ORDER_CURRENCY "INR"
#define ORDER_ID_LEN 24 /* 12 hex digits of ms time, 12 random */
#define ORDER_LIMIT_DEFAULT 20
#define ORDER_LIMIT_MAX 100
#define ORDER_IDEM_KEY_MAX 255

typedef enum order_status {
    OS_PENDING = 0,
    OS_PLACED,
    OS_CONFIRMED,
    OS_PACKED,
    OS_OUT_FOR_DELIVERY,
    OS_DELIVERED,
    OS_CANCELLED,
    OS_COUNT,
} order_status;

typedef struct order_cfg {
    long long pending_timeout_ms; /* a pending order older than this was abandoned */
    long long stuck_after_ms;     /* unfinished worker work older than this is redone */
    long long reconcile_interval_ms;
    long long idem_ttl_ms;
    int sse_heartbeat_s;
    const char *channel; /* pub/sub channel of status changes (borrowed from config) */
    const char *order_queue;
    const char *delivery_queue;
    int order_concurrency, order_attempts;
    long long order_backoff_ms;
    const char *webhook_url; /* NULL: log only (development) */
    long long webhook_timeout_ms;
    int delivery_concurrency, delivery_attempts;
    long long delivery_backoff_ms;
} order_cfg;

typedef struct order_events order_events;
typedef struct order_reconciler order_reconciler;

typedef struct order_state {
    kr_plugin_ctx *ctx;
    order_cfg cfg;
    kr_coll *orders, *products, *idem;  /* borrowed */
    kr_redis *redis;                    /* borrowed */
    kr_queue *queue;                    /* borrowed; NULL: no queue configured */
    order_events *events;               /* SSE fan-out (http role) */
    order_reconciler *rec;              /* running in the worker role */
    char scan_from[PRODUCT_ID_MAX + 1]; /* where the reconciler's product scan goes on ("" from the start) */
    kr_counter *placed, *out_of_stock, *cancelled, *replays, *repairs;
} order_state;

/* The plugin's one export (plugin.c). */
const kr_plugin *kr_plugin_entry(void);

/* --- util.c --- */

/* any. Milliseconds since the epoch (wall clock). */
int64_t order_now_ms(void);
/* any. ISO 8601 UTC with milliseconds ("2024-05-01T09:30:00.000Z"). */
void order_iso(int64_t ms, char out[32]);
/* any. A new order id: hex of the time in ms, then random hex, so ids sort
 * roughly by creation. 0 or KR_EINTERNAL. */
int order_new_id(char out[ORDER_ID_LEN + 1]);
/* any. nbytes (at most 64) random bytes as 2 * nbytes hex digits and a
 * NUL into out. 0 or KR_EINTERNAL. */
int order_random_hex(char *out, size_t nbytes);
/* any. 1 when s can be an id this plugin (or product.so) made. */
int order_id_plausible(const char *s);
/* any. Keyset cursor (created_at, id) as base64url text; caller-owned. */
char *order_cursor_encode(const char *created_at, const char *id);
/* any. 0, or KR_EINVAL for text order_cursor_encode did not make;
 * out_created and out_id are caller-owned. */
int order_cursor_decode(const char *text, char **out_created, char **out_id);

/* --- validate.c: pure --- */

/* POST /orders body → {address: {...}, note} with absent optional members
 * normalised (note null). *clean caller-owned. 0, or KR_EINVAL with
 * {field, message} entries in *errors. */
int order_validate_place(const json_t *body, json_t **clean, json_t **errors);
/* PATCH /orders/{id}/status body → the target status. */
int order_validate_status(const json_t *body, order_status *to, json_t **errors);
/* ?limit and ?cursor of GET /orders (each may be NULL). */
int order_validate_list(const char *limit, const char *cursor, int *limit_out, char **after_created, char **after_id,
                        json_t **errors);

/* --- machine.c: the state machine --- */

const char *order_status_name(order_status s);
/* OS_COUNT when name is no status. */
order_status order_status_parse(const char *name);
/* Status of a stored order document (OS_COUNT when unreadable). */
order_status order_doc_status(const json_t *doc);
/* 1 when DESIGN.md's machine has the edge from → to. */
int order_edge(order_status from, order_status to);
/* 1 for delivered and cancelled. */
int order_terminal(order_status s);
/* worker. The decision: one guarded find_one_and_update({_id, status:
 * from} → status to, version + 1, history + {to, at}, updated_at, plus
 * the members of `set` (borrowed, may be NULL)). *after (caller-owned, may
 * be NULL) is the document after it. KR_ENOTFOUND when the order is not
 * in `from` (or does not exist). Publishes the change on success. */
int order_transition(order_state *st, const char *id, order_status from, order_status to, const json_t *set,
                     json_t **after);
/* worker. The order document, KR_ENOTFOUND if none. */
int order_load(order_state *st, const char *id, json_t **doc);

/* --- effects.c: idempotent effects on products --- */

typedef enum order_effect {
    EFF_RESERVE,  /* stock → reserved, + hold */
    EFF_RELEASE,  /* reserved → stock, - hold */
    EFF_COMMIT,   /* reserved → committed, hold → commit */
    EFF_UNCOMMIT, /* committed → stock, - commit */
    EFF_SHIP,     /* committed → shipped, - commit */
} order_effect;

/* worker. One guarded update on one product. *applied is 1 when it
 * changed the product, 0 when its guard did not match (already done, not
 * due, or — for reserve — not enough stock or inactive). */
int order_effect_apply(order_state *st, order_effect e, const char *order_id, const char *product_id, json_int_t qty,
                       int *applied);
/* worker. For every line of the order document, in product-id order: */
int order_release_all(order_state *st, const json_t *doc);      /* release */
int order_settle_cancelled(order_state *st, const json_t *doc); /* release, else un-commit */
int order_commit_all(order_state *st, const json_t *doc);       /* commit */
int order_ship_all(order_state *st, const json_t *doc);         /* commit if still held, then ship */

/* --- view.c: pure --- */

/* The order body of DESIGN.md ("Order body"). Caller-owned. */
json_t *order_view(const json_t *doc);
/* {order, history} as published on the status channel. Caller-owned text. */
char *order_event_message(const json_t *doc);

/* --- answers kept by the idempotency records --- */

/* A final answer: 2xx with a JSON body, or a problem. */
typedef struct order_answer {
    int status;
    char code[48];      /* problem code; "" for a JSON body */
    char detail[192];   /* problem detail */
    json_t *json;       /* JSON body, or the problem's extra members; owned */
    char location[160]; /* Location header; "" for none */
} order_answer;

void order_answer_problem(order_answer *a, int status, const char *code, json_t *extra, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void order_answer_free(order_answer *a);
/* worker. Sends the answer (identically for a first answer and a replay). */
int order_answer_reply(kr_req *req, const order_answer *a);

/* --- place.c: placing an order --- */

/* worker. Places order `order_id` for `user_id` from the cart with the
 * validated body. With `resume`, an earlier attempt with this id may have
 * got some way (it died or failed): an existing order is carried on from
 * where it stands instead of being created. Fills *a with the final answer
 * (201, 409 out_of_stock / order_cancelled, 422 cart_empty) or returns a
 * negative kr_err (dependency failure: nothing final). */
int order_place(order_state *st, const char *user_id, const char *order_id, int resume, const char *mount,
                const json_t *clean, order_answer *a);

/* --- idempotency.c: Idempotency-Key records --- */

typedef enum order_idem_verdict {
    IDEM_OWNED,    /* this request runs; order_id says which order to place */
    IDEM_REPLAY,   /* a final answer exists: replay it */
    IDEM_IN_USE,   /* another request with this key is running */
    IDEM_MISMATCH, /* the key was used with another body */
} order_idem_verdict;

typedef struct order_idem {
    order_idem_verdict verdict;
    char rec_id[64];
    char owner[33];
    char order_id[ORDER_ID_LEN + 1];
    int resumed;         /* IDEM_OWNED: taken over from an earlier request */
    order_answer replay; /* IDEM_REPLAY */
} order_idem;

/* worker. Claims (user, key) for a request with `body`. */
int order_idem_claim(order_state *st, const char *user_id, const char *key, const json_t *body, order_idem *out);
/* worker. Keeps the final answer for idem_ttl. */
int order_idem_finish(order_state *st, const order_idem *rec, const order_answer *a);
/* worker. No final answer (5xx): the next request with the key resumes. */
int order_idem_abandon(order_state *st, const order_idem *rec);
/* worker. Deletes records past their expiry. */
int order_idem_purge(order_state *st, int64_t *deleted);

/* --- worker.c: queue consumers --- */

/* worker or job thread. Adds the `order` job (jobId = order id). */
int order_enqueue_finalize(order_state *st, const char *order_id);
/* job thread (or the reconciler). The worker's part of an order:
 * placed → confirmed, commit every line, enqueue delivery; idempotent. */
int order_finalize(order_state *st, const char *order_id);
int order_consume_order(kr_job *job, void *udata);
int order_consume_delivery(kr_job *job, void *udata);

/* --- webhook.c --- */

typedef enum order_webhook_result {
    WEBHOOK_OK,        /* 2xx */
    WEBHOOK_RETRY,     /* network, timeout, 5xx, 408, 429 */
    WEBHOOK_PERMANENT, /* other 4xx: retrying cannot help */
} order_webhook_result;

/* job thread. POSTs body (JSON text) to url with Idempotency-Key: key.
 * why gets a short reason when not WEBHOOK_OK. */
order_webhook_result order_webhook_post(const char *url, long long timeout_ms, const char *key, const char *body,
                                        char *why, size_t whylen);

/* --- reconcile.c: the reconciler (worker role) --- */

/* init thread (start). */
int order_reconciler_start(order_state *st);
/* main thread (stop). NULL is fine. */
void order_reconciler_stop(order_state *st);
/* One pass (the reconciler's thread, or a test; not two at once). *repairs
 * counts the orders cancelled or finished and the effects redone. */
int order_reconcile_once(order_state *st, int *repairs);

/* --- events.c: server-sent events --- */

/* init thread. Creates the fan-out and subscribes to the channel. */
int order_events_init(order_state *st);
/* main thread. Ends every open stream; frees the fan-out. */
void order_events_fini(order_state *st);
/* worker. Publishes a change of the order document (best effort). */
void order_events_publish(order_state *st, const json_t *doc);
/* handler of GET /orders/{id}/events. */
int order_h_events(kr_req *req, void *udata);

/* --- handlers.c --- */

/* The order a caller may see: admin any, a user their own. KR_ENOTFOUND
 * otherwise (never 403: ids of others are not confirmed to exist). */
int order_load_visible(order_state *st, const kr_req *req, const char *id, json_t **doc);
int order_h_place(kr_req *req, void *udata);
int order_h_list(kr_req *req, void *udata);
int order_h_get(kr_req *req, void *udata);
int order_h_cancel(kr_req *req, void *udata);
int order_h_status(kr_req *req, void *udata);

#endif
