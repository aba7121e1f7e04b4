/* order.so: Idempotency-Key records (DESIGN.md "API details").
 *
 * One document per (user, key) in ORDER_IDEM_COLL under a unique index, in
 * the same database as the orders: a record must be exactly as durable as
 * the order it stands for, which a cache Redis (possibly evicting, possibly
 * restarted without persistence) is not. The insert that wins the unique
 * index owns the key; it carries the id of the order it will place, chosen
 * before anything is written, so a request that dies half way leaves a
 * record that names its order and the next request with that key resumes
 * the same order instead of creating a second one.
 *
 *   running  a request is working on it (owner + started_ms); after half
 *            the pending timeout without an answer it is presumed dead
 *   failed   the request ended without a final answer (5xx): resumable now
 *   done     the final answer (status, body, Location) for idem_ttl
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "order.h"

/* Claims that lose this many races in a row give up as "in use". */
#define CLAIM_TRIES 5

static long long lease_ms(const order_state *st)
{
    return st->cfg.pending_timeout_ms / 2;
}

static int answer_from_record(const json_t *rec, order_answer *a)
{
    const json_t *ans = json_object_get(rec, "answer");
    memset(a, 0, sizeof(*a));
    a->status = (int)json_integer_value(json_object_get(ans, "status"));
    snprintf(a->code, sizeof(a->code), "%s", json_string_value(json_object_get(ans, "code")) ?: "");
    snprintf(a->detail, sizeof(a->detail), "%s", json_string_value(json_object_get(ans, "detail")) ?: "");
    snprintf(a->location, sizeof(a->location), "%s", json_string_value(json_object_get(ans, "location")) ?: "");
    const char *text = json_string_value(json_object_get(ans, "json"));
    if (text != NULL && (a->json = json_loads(text, 0, NULL)) == NULL)
        return KR_EINTERNAL;
    return a->status >= 200 && a->status < 500 ? KR_OK : KR_EINTERNAL;
}

static int same_request(const json_t *rec, const json_t *body)
{
    json_t *stored = json_loads(json_string_value(json_object_get(rec, "request")) ?: "", 0, NULL);
    int same = stored != NULL && json_equal(stored, (json_t *)body);
    json_decref(stored);
    return same;
}

/* Takes over a record whose request died or failed: the guard on the old
 * owner makes one of several racing takers win. */
static int take_over(order_state *st, const json_t *rec, order_idem *out, int *won)
{
    *won = 0;
    char owner[33];
    int rc = order_random_hex(owner, 16);
    if (rc < 0)
        return rc;
    json_t *filter =
        json_pack("{s:O, s:O}", "_id", json_object_get(rec, "_id"), "owner", json_object_get(rec, "owner"));
    json_t *update =
        json_pack("{s{sssssI}}", "$set", "owner", owner, "state", "running", "started_ms", (json_int_t)order_now_ms());
    kr_update_result res = {0};
    rc = filter != NULL && update != NULL ? kr_db_update_one(st->idem, filter, update, 0, &res) : KR_ENOMEM;
    json_decref(filter);
    json_decref(update);
    free(res.upserted_id);
    if (rc < 0 || res.matched == 0)
        return rc;
    const char *order_id = json_string_value(json_object_get(rec, "order_id"));
    if (order_id == NULL || strlen(order_id) != ORDER_ID_LEN)
        return KR_EINTERNAL;
    snprintf(out->rec_id, sizeof(out->rec_id), "%s", json_string_value(json_object_get(rec, "_id")));
    memcpy(out->owner, owner, sizeof(owner));
    memcpy(out->order_id, order_id, ORDER_ID_LEN + 1);
    out->verdict = IDEM_OWNED;
    out->resumed = 1;
    *won = 1;
    return KR_OK;
}

/* Looks at the record that beat our insert. *again asks for another try
 * (the record went away or expired, or a takeover lost a race). */
static int judge(order_state *st, const char *user_id, const char *key, const json_t *body, order_idem *out, int *again)
{
    *again = 0;
    json_t *filter = json_pack("{ssss}", "user_id", user_id, "key", key);
    json_t *rec = NULL;
    int rc = filter != NULL ? kr_db_find_one(st->idem, filter, NULL, NULL, &rec) : KR_ENOMEM;
    json_decref(filter);
    if (rc == KR_ENOTFOUND) {
        *again = 1;
        return KR_OK;
    }
    if (rc < 0)
        return rc;
    int64_t now = order_now_ms();
    const char *state = json_string_value(json_object_get(rec, "state")) ?: "";
    if (json_integer_value(json_object_get(rec, "expires_ms")) < now) {
        /* past its lifetime: gone, as if purged (the guard keeps a record
         * renewed meanwhile) */
        json_t *f = json_pack("{s:O, s:O}", "_id", json_object_get(rec, "_id"), "expires_ms",
                              json_object_get(rec, "expires_ms"));
        rc = f != NULL ? kr_db_delete_one(st->idem, f, NULL) : KR_ENOMEM;
        json_decref(f);
        *again = rc == KR_OK;
    } else if (strcmp(state, "running") == 0 &&
               json_integer_value(json_object_get(rec, "started_ms")) > now - lease_ms(st)) {
        out->verdict = IDEM_IN_USE;
    } else if (!same_request(rec, body)) {
        out->verdict = IDEM_MISMATCH;
    } else if (strcmp(state, "done") == 0) {
        out->verdict = IDEM_REPLAY;
        rc = answer_from_record(rec, &out->replay);
    } else {
        int won;
        rc = take_over(st, rec, out, &won);
        *again = rc == KR_OK && !won;
    }
    json_decref(rec);
    return rc;
}

int order_idem_claim(order_state *st, const char *user_id, const char *key, const json_t *body, order_idem *out)
{
    memset(out, 0, sizeof(*out));
    char *request = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    if (request == NULL)
        return KR_ENOMEM;
    int rc = KR_OK;
    for (int i = 0; i < CLAIM_TRIES; i++) {
        int64_t now = order_now_ms();
        if ((rc = order_random_hex(out->owner, 16)) < 0 || (rc = order_new_id(out->order_id)) < 0)
            break;
        json_t *doc = json_pack("{sssssssssssssIsI}", "user_id", user_id, "key", key, "request", request, "state",
                                "running", "owner", out->owner, "order_id", out->order_id, "started_ms",
                                (json_int_t)now, "expires_ms", (json_int_t)(now + st->cfg.idem_ttl_ms));
        char *id = NULL;
        rc = doc != NULL ? kr_db_insert_one(st->idem, doc, &id) : KR_ENOMEM;
        json_decref(doc);
        if (rc == KR_OK) {
            snprintf(out->rec_id, sizeof(out->rec_id), "%s", id);
            free(id);
            out->verdict = IDEM_OWNED;
            break;
        }
        if (rc != KR_EDUPLICATE)
            break;
        int again;
        if ((rc = judge(st, user_id, key, body, out, &again)) < 0 || !again)
            break;
        /* the last try found the key busy */
        out->verdict = IDEM_IN_USE;
    }
    free(request);
    return rc;
}

int order_idem_finish(order_state *st, const order_idem *rec, const order_answer *a)
{
    char *text = a->json != NULL ? json_dumps(a->json, JSON_COMPACT) : NULL;
    if (a->json != NULL && text == NULL)
        return KR_ENOMEM;
    json_t *filter = json_pack("{ssss}", "_id", rec->rec_id, "owner", rec->owner);
    json_t *update = json_pack("{s{sss{sissssssss?}sI}}", "$set", "state", "done", "answer", "status", a->status,
                               "code", a->code, "detail", a->detail, "location", a->location, "json", text,
                               "expires_ms", (json_int_t)(order_now_ms() + st->cfg.idem_ttl_ms));
    int rc = filter != NULL && update != NULL ? kr_db_update_one(st->idem, filter, update, 0, NULL) : KR_ENOMEM;
    json_decref(filter);
    json_decref(update);
    free(text);
    return rc;
}

int order_idem_abandon(order_state *st, const order_idem *rec)
{
    json_t *filter = json_pack("{ssss}", "_id", rec->rec_id, "owner", rec->owner);
    json_t *update = json_pack("{s{ss}}", "$set", "state", "failed");
    int rc = filter != NULL && update != NULL ? kr_db_update_one(st->idem, filter, update, 0, NULL) : KR_ENOMEM;
    json_decref(filter);
    json_decref(update);
    return rc;
}

int order_idem_purge(order_state *st, int64_t *deleted)
{
    json_t *filter = json_pack("{s{sI}}", "expires_ms", "$lt", (json_int_t)order_now_ms());
    int rc = filter != NULL ? kr_db_delete_many(st->idem, filter, deleted) : KR_ENOMEM;
    json_decref(filter);
    return rc;
}
