/* An order's life through the fake host: the order and delivery jobs (also
 * run twice), cancel from every state and interleaved with the worker,
 * admin status changes, reads and lists, and the reconciler's repairs. */
#include "fixture.h"

static char *placed_order(fixture *f, const kr_principal *who, const char *key)
{
    assert_int_equal(place(f, who, key, ADDRESS), 201);
    return strdup(str(f->r.json, "id"));
}

static void run(fixture *f, const char *queue, int want)
{
    assert_int_equal(kr_fakehost_run_jobs(f->fh, queue), want);
}

static void jobs_run_twice_change_nothing_the_second_time(void **state)
{
    fixture *f = *state;
    product(f, "a", 100, 10);
    cart(f, "alice", "a", "4");
    char *id = placed_order(f, &alice, "k");
    assert_int_equal(order_finalize(f->st, id), 0);
    assert_int_equal(order_finalize(f->st, id), 0); /* a redelivered job */
    run(f, "order", 1);                             /* and the queued one */
    stock_is(f, "a", 10, 6, 0, 4, 0);
    json_t *doc;
    assert_int_equal(order_load(f->st, id, &doc), 0);
    assert_int_equal(num(doc, "version"), 2);
    assert_int_equal(json_array_size(json_object_get(doc, "history")), 3);
    assert_non_null(str(doc, "finalized_at"));
    json_decref(doc);
    assert_int_equal(kr_fakehost_jobs(f->fh, "delivery"), 1); /* one job per order */
    run(f, "delivery", 1);
    free(id);
}

static void a_job_for_an_unknown_order_is_discarded(void **state)
{
    fixture *f = *state;
    json_t *data = json_pack("{ss}", "order_id", "0000000000000000000000ff");
    json_t *opts = json_pack("{sssi}", "jobId", "x1", "attempts", 5);
    assert_int_equal(kr_queue_add(kr_fakehost_queue(f->fh), "order", "finalize", data, opts, NULL), 0);
    json_decref(data);
    json_decref(opts);
    data = json_pack("{si}", "order_id", 5);
    assert_int_equal(kr_queue_add(kr_fakehost_queue(f->fh), "delivery", "notify", data, NULL, NULL), 0);
    json_decref(data);
    assert_int_equal(kr_fakehost_drain(f->fh, NULL), 2);
    json_t *job = kr_fakehost_job(f->fh, "order", "x1");
    assert_string_equal(str(job, "state"), "failed");
    assert_int_equal(num(job, "attempts_made"), 1);
    assert_string_equal(str(job, "failed_reason"), "no such order");
    json_decref(job);
}

static void a_job_for_a_pending_order_is_retried(void **state)
{
    fixture *f = *state;
    product(f, "a", 100, 10);
    json_t *order = parse("{\"_id\":\"0000000000000000000000ee\",\"user_id\":\"alice\",\"status\":\"pending\","
                          "\"version\":0,\"history\":[],\"items\":[]}");
    assert_int_equal(kr_db_insert_one(coll(f, ORDER_COLL), order, NULL), 0);
    json_decref(order);
    assert_int_equal(order_enqueue_finalize(f->st, "0000000000000000000000ee"), 0);
    run(f, "order", 1);
    json_t *job = kr_fakehost_job(f->fh, "order", "0000000000000000000000ee");
    assert_string_equal(str(job, "state"), "delayed"); /* backoff, then again */
    assert_string_equal(str(job, "failed_reason"), "the order is still being placed");
    json_decref(job);
}

static void cancel_restocks_whatever_the_worker_did(void **state)
{
    fixture *f = *state;
    product(f, "a", 100, 10);
    char buf[32];

    /* placed: release */
    cart(f, "alice", "a", "2");
    char *o1 = placed_order(f, &alice, "1");
    char path[96];
    snprintf(path, sizeof(path), "/orders/%s/cancel", o1);
    assert_int_equal(req(f, "POST", path, NULL, &alice), 200);
    assert_string_equal(str(f->r.json, "status"), "cancelled");
    assert_string_equal(str(f->r.json, "cancel_reason"), "cancelled_by_user");
    stock_is(f, "a", 10, 10, 0, 0, 0);
    /* the worker comes late: nothing moves */
    run(f, "order", 1);
    assert_string_equal(status_of(f, o1, buf, sizeof(buf)), "cancelled");
    stock_is(f, "a", 10, 10, 0, 0, 0);
    assert_int_equal(kr_fakehost_jobs(f->fh, "delivery"), 0);
    assert_int_equal(req(f, "POST", path, NULL, &alice), 409);
    assert_string_equal(str(f->r.json, "current_status"), "cancelled");

    /* confirmed and committed: un-commit */
    cart(f, "alice", "a", "3");
    char *o2 = placed_order(f, &alice, "2");
    run(f, "order", 1);
    stock_is(f, "a", 10, 7, 0, 3, 0);
    snprintf(path, sizeof(path), "/orders/%s/cancel", o2);
    assert_int_equal(req(f, "POST", path, NULL, &boss), 200);
    assert_string_equal(str(f->r.json, "cancel_reason"), "cancelled_by_admin");
    stock_is(f, "a", 10, 10, 0, 0, 0);

    /* confirmed but not yet committed (the worker was between its
     * decision and its effects): release, and the late commit is a no-op */
    cart(f, "alice", "a", "1");
    char *o3 = placed_order(f, &alice, "3");
    assert_int_equal(order_transition(f->st, o3, OS_PLACED, OS_CONFIRMED, NULL, NULL), 0);
    snprintf(path, sizeof(path), "/orders/%s/cancel", o3);
    assert_int_equal(req(f, "POST", path, NULL, &alice), 200);
    stock_is(f, "a", 10, 10, 0, 0, 0);
    json_t *doc;
    assert_int_equal(order_load(f->st, o3, &doc), 0);
    assert_int_equal(order_commit_all(f->st, doc), 0);
    json_decref(doc);
    stock_is(f, "a", 10, 10, 0, 0, 0);

    /* others cannot cancel (and cannot tell the order exists) */
    cart(f, "alice", "a", "1");
    char *o4 = placed_order(f, &alice, "4");
    snprintf(path, sizeof(path), "/orders/%s/cancel", o4);
    assert_int_equal(req(f, "POST", path, NULL, &bob), 404);
    assert_int_equal(req(f, "POST", "/orders/nope/cancel", NULL, &alice), 404);
    stock_is(f, "a", 10, 9, 1, 0, 0);
    free(o1);
    free(o2);
    free(o3);
    free(o4);
}

static void admin_moves_orders_along_the_machine_only(void **state)
{
    fixture *f = *state;
    product(f, "a", 100, 10);
    product(f, "b", 100, 10);
    cart(f, "alice", "a", "2");
    cart(f, "alice", "b", "1");
    char *id = placed_order(f, &alice, "k");
    char path[96];
    snprintf(path, sizeof(path), "/orders/%s/status", id);
    /* not before the worker confirmed */
    assert_int_equal(req(f, "PATCH", path, "{\"status\":\"packed\"}", &boss), 409);
    assert_string_equal(str(f->r.json, "code"), "invalid_transition");
    assert_string_equal(str(f->r.json, "current_status"), "placed");
    assert_int_equal(req(f, "PATCH", path, "{\"status\":\"confirmed\"}", &boss), 409);
    run(f, "order", 1);
    const char *refused[] = {"pending", "placed", "confirmed", "out_for_delivery", "delivered", "cancelled"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        char body[64];
        snprintf(body, sizeof(body), "{\"status\":\"%s\"}", refused[i]);
        assert_int_equal(req(f, "PATCH", path, body, &boss), 409);
    }
    assert_int_equal(req(f, "PATCH", path, "{\"status\":\"packed\"}", &alice), 403);
    assert_int_equal(req(f, "PATCH", path, "{\"status\":\"lost\"}", &boss), 400);
    assert_int_equal(req(f, "PATCH", "/orders/0000000000000000000000ff/status", "{\"status\":\"packed\"}", &boss), 404);
    assert_int_equal(req(f, "PATCH", path, "{\"status\":\"packed\"}", &boss), 200);
    assert_string_equal(str(f->r.json, "status"), "packed");
    stock_is(f, "a", 10, 8, 0, 2, 0);
    assert_int_equal(req(f, "PATCH", path, "{\"status\":\"out_for_delivery\"}", &boss), 200);
    stock_is(f, "a", 10, 8, 0, 0, 2);
    stock_is(f, "b", 10, 9, 0, 0, 1);
    snprintf(path, sizeof(path), "/orders/%s/cancel", id);
    assert_int_equal(req(f, "POST", path, NULL, &alice), 409);
    snprintf(path, sizeof(path), "/orders/%s/status", id);
    assert_int_equal(req(f, "PATCH", path, "{\"status\":\"delivered\"}", &boss), 200);
    assert_int_equal(req(f, "PATCH", path, "{\"status\":\"delivered\"}", &boss), 409);
    stock_is(f, "a", 10, 8, 0, 0, 2);
    json_t *doc;
    assert_int_equal(order_load(f->st, id, &doc), 0);
    assert_int_equal(num(doc, "version"), 5);
    json_decref(doc);
    free(id);
}

static void shipping_makes_a_commit_the_worker_has_not(void **state)
{
    fixture *f = *state;
    product(f, "a", 100, 10);
    cart(f, "alice", "a", "2");
    char *id = placed_order(f, &alice, "k");
    /* the worker decided, then died before committing */
    assert_int_equal(order_transition(f->st, id, OS_PLACED, OS_CONFIRMED, NULL, NULL), 0);
    assert_int_equal(order_transition(f->st, id, OS_CONFIRMED, OS_PACKED, NULL, NULL), 0);
    stock_is(f, "a", 10, 8, 2, 0, 0);
    char path[96];
    snprintf(path, sizeof(path), "/orders/%s/status", id);
    assert_int_equal(req(f, "PATCH", path, "{\"status\":\"out_for_delivery\"}", &boss), 200);
    stock_is(f, "a", 10, 8, 0, 0, 2);
    run(f, "order", 1); /* the recovered job: nothing left to do */
    stock_is(f, "a", 10, 8, 0, 0, 2);
    free(id);
}

static void reads_and_lists(void **state)
{
    fixture *f = *state;
    product(f, "a", 100, 100);
    char *ids[5];
    for (int i = 0; i < 5; i++) {
        char key[8];
        snprintf(key, sizeof(key), "k%d", i);
        cart(f, "alice", "a", "1");
        ids[i] = placed_order(f, &alice, key);
        struct timespec ts = {0, 2 * 1000000}; /* distinct created_at */
        nanosleep(&ts, NULL);
    }
    cart(f, "bob", "a", "1");
    char *theirs = placed_order(f, &bob, "b");

    char path[160];
    snprintf(path, sizeof(path), "/orders/%s", ids[0]);
    assert_int_equal(req(f, "GET", path, NULL, &alice), 200);
    assert_string_equal(str(f->r.json, "id"), ids[0]);
    assert_int_equal(req(f, "GET", path, NULL, &bob), 404);
    assert_int_equal(req(f, "GET", path, NULL, &boss), 200);
    snprintf(path, sizeof(path), "/orders/%s/events", ids[0]);
    assert_int_equal(req(f, "GET", path, NULL, &bob), 404);

    /* pages of 2, newest first */
    char *cursor = NULL;
    int seen = 0;
    do {
        if (cursor != NULL)
            snprintf(path, sizeof(path), "/orders?limit=2&cursor=%s", cursor);
        else
            snprintf(path, sizeof(path), "/orders?limit=2");
        free(cursor);
        cursor = NULL;
        assert_int_equal(req(f, "GET", path, NULL, &alice), 200);
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(f->r.json, "items"), i, o)
            assert_string_equal(str(o, "id"), ids[4 - seen++]);
        if (str(f->r.json, "next_cursor") != NULL)
            cursor = strdup(str(f->r.json, "next_cursor"));
        else
            assert_true(json_is_null(json_object_get(f->r.json, "next_cursor")));
    } while (cursor != NULL);
    assert_int_equal(seen, 5);

    assert_int_equal(req(f, "GET", "/orders?user_id=alice", NULL, &alice), 403);
    assert_int_equal(req(f, "GET", "/orders?limit=0", NULL, &alice), 400);
    assert_int_equal(req(f, "GET", "/orders?cursor=zz", NULL, &alice), 400);
    assert_int_equal(req(f, "GET", "/orders?user_id=bob", NULL, &boss), 200);
    assert_int_equal(json_array_size(json_object_get(f->r.json, "items")), 1);
    assert_int_equal(req(f, "GET", "/orders", NULL, &boss), 200);
    assert_int_equal(json_array_size(json_object_get(f->r.json, "items")), 6);
    kr_fakehost_fail_db(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(req(f, "GET", "/orders", NULL, &alice), 503);
    for (int i = 0; i < 5; i++)
        free(ids[i]);
    free(theirs);
}

/* An order document written as a process left it. */
static void write_order(fixture *f, const char *id, const char *status, const char *product_id, long long qty,
                        const char *at, int finalized)
{
    json_t *d = json_pack("{sssssssis[]s[{sssssisIsI}]sissss}", "_id", id, "user_id", "alice", "status", status,
                          "version", 1, "history", "items", "product_id", product_id, "name", product_id, "price", 100,
                          "qty", (json_int_t)qty, "line_total", (json_int_t)(100 * qty), "total", (int)(100 * qty),
                          "created_at", at, "updated_at", at);
    if (finalized)
        json_object_set_new(d, "finalized_at", json_string(at));
    assert_int_equal(kr_db_insert_one(coll(f, ORDER_COLL), d, NULL), 0);
    json_decref(d);
}

static void effect(fixture *f, order_effect e, const char *order, const char *product_id, long long qty)
{
    int applied;
    assert_int_equal(order_effect_apply(f->st, e, order, product_id, qty, &applied), 0);
    assert_int_equal(applied, 1);
}

static void the_reconciler_finishes_what_crashes_left(void **state)
{
    fixture *f = *state;
    char buf[32], old[32], now[32];
    order_iso(order_now_ms() - 3600 * 1000, old);
    order_iso(order_now_ms(), now);
    product(f, "p", 100, 100);

    write_order(f, "o_pending_old", "pending", "p", 1, old, 0); /* placement died */
    effect(f, EFF_RESERVE, "o_pending_old", "p", 1);
    write_order(f, "o_pending_new", "pending", "p", 2, now, 0); /* placement running */
    effect(f, EFF_RESERVE, "o_pending_new", "p", 2);
    write_order(f, "o_placed_lost", "placed", "p", 3, old, 0); /* job lost */
    effect(f, EFF_RESERVE, "o_placed_lost", "p", 3);
    write_order(f, "o_cancel_hold", "cancelled", "p", 4, now, 0); /* cancel died */
    effect(f, EFF_RESERVE, "o_cancel_hold", "p", 4);
    write_order(f, "o_cancel_commit", "cancelled", "p", 5, now, 0);
    effect(f, EFF_RESERVE, "o_cancel_commit", "p", 5);
    effect(f, EFF_COMMIT, "o_cancel_commit", "p", 5);
    write_order(f, "o_ofd", "out_for_delivery", "p", 6, now, 1); /* shipping died */
    effect(f, EFF_RESERVE, "o_ofd", "p", 6);
    write_order(f, "o_confirmed", "confirmed", "p", 7, now, 1); /* commit died */
    effect(f, EFF_RESERVE, "o_confirmed", "p", 7);
    effect(f, EFF_RESERVE, "o_missing", "p", 8); /* no order at all */
    stock_is(f, "p", 100, 64, 31, 5, 0);

    int repairs = 0;
    assert_int_equal(order_reconcile_once(f->st, &repairs), 0);
    assert_string_equal(status_of(f, "o_pending_old", buf, sizeof(buf)), "cancelled");
    assert_string_equal(status_of(f, "o_pending_new", buf, sizeof(buf)), "pending");
    assert_string_equal(status_of(f, "o_placed_lost", buf, sizeof(buf)), "confirmed");
    /* held: o_pending_new 2; committed: o_placed_lost 3 + o_confirmed 7; shipped: o_ofd 6 */
    stock_is(f, "p", 100, 82, 2, 10, 6);
    assert_int_equal(repairs, 7);
    assert_int_equal(kr_fakehost_jobs(f->fh, "delivery"), 1); /* for o_placed_lost */
    json_t *doc;
    assert_int_equal(order_load(f->st, "o_pending_old", &doc), 0);
    assert_string_equal(str(doc, "cancel_reason"), "placement_timeout");
    json_decref(doc);

    /* a second pass finds nothing to do */
    assert_int_equal(order_reconcile_once(f->st, &repairs), 0);
    assert_int_equal(repairs, 0);
    stock_is(f, "p", 100, 82, 2, 10, 6);
    assert_true(kr_fakehost_counter(f->fh, "orders_reconciler_repairs_total", NULL) == 7);
}

static void the_reconciler_purges_expired_keys(void **state)
{
    fixture *f = *state;
    json_t *old = json_pack("{sssssssI}", "user_id", "u", "key", "k", "state", "done", "expires_ms",
                            (json_int_t)(order_now_ms() - 1));
    json_t *live = json_pack("{sssssssI}", "user_id", "u", "key", "k2", "state", "done", "expires_ms",
                             (json_int_t)(order_now_ms() + 60000));
    assert_int_equal(kr_db_insert_one(coll(f, ORDER_IDEM_COLL), old, NULL), 0);
    assert_int_equal(kr_db_insert_one(coll(f, ORDER_IDEM_COLL), live, NULL), 0);
    json_decref(old);
    json_decref(live);
    int repairs;
    assert_int_equal(order_reconcile_once(f->st, &repairs), 0);
    int64_t n;
    assert_int_equal(kr_db_count(coll(f, ORDER_IDEM_COLL), NULL, &n), 0);
    assert_int_equal(n, 1);
    /* an outage fails the pass; the next one retries */
    kr_fakehost_fail_db(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(order_reconcile_once(f->st, &repairs), KR_EUNAVAILABLE);
}

static void an_expired_key_is_a_new_key(void **state)
{
    fixture *f = *state;
    fixture_free(f);
    *state = f = fixture_new("{\"idempotency_ttl_s\": 1}");
    product(f, "a", 100, 10);
    cart(f, "alice", "a", "1");
    char *first = placed_order(f, &alice, "k");
    struct timespec ts = {1, 100 * 1000000};
    nanosleep(&ts, NULL);
    cart(f, "alice", "a", "1");
    char *second = placed_order(f, &alice, "k");
    assert_string_not_equal(first, second);
    stock_is(f, "a", 10, 8, 2, 0, 0);
    free(first);
    free(second);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(jobs_run_twice_change_nothing_the_second_time, setup, teardown),
        cmocka_unit_test_setup_teardown(a_job_for_an_unknown_order_is_discarded, setup, teardown),
        cmocka_unit_test_setup_teardown(a_job_for_a_pending_order_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(cancel_restocks_whatever_the_worker_did, setup, teardown),
        cmocka_unit_test_setup_teardown(admin_moves_orders_along_the_machine_only, setup, teardown),
        cmocka_unit_test_setup_teardown(shipping_makes_a_commit_the_worker_has_not, setup, teardown),
        cmocka_unit_test_setup_teardown(reads_and_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(the_reconciler_finishes_what_crashes_left, setup, teardown),
        cmocka_unit_test_setup_teardown(the_reconciler_purges_expired_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(an_expired_key_is_a_new_key, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
