/* The fake host's document store through the SDK's kr_db calls. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kirana/fakehost.h"

static json_t *js(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
    if (v == NULL)
        fail_msg("bad JSON in test: %s", text);
    return v;
}

/* Runs op with JSON arguments given as text, then frees them. */
static int insert(kr_coll *c, const char *doc)
{
    json_t *d = js(doc);
    int rc = kr_db_insert_one(c, d, NULL);
    json_decref(d);
    return rc;
}

static json_t *find(kr_coll *c, const char *filter, const char *sort, const char *proj, int64_t skip, int64_t limit)
{
    json_t *f = filter ? js(filter) : NULL, *s = sort ? js(sort) : NULL, *p = proj ? js(proj) : NULL, *out = NULL;
    int rc = kr_db_find(c, f, s, p, skip, limit, &out);
    json_decref(f);
    json_decref(s);
    json_decref(p);
    if (rc != 0)
        fail_msg("find failed: %s", kr_errmsg(c));
    return out;
}

static void assert_json(const json_t *got, const char *want)
{
    json_t *w = js(want);
    if (!json_equal(got, w)) {
        char *g = json_dumps(got, JSON_COMPACT);
        print_error("got  %s\nwant %s\n", g, want);
        free(g);
        json_decref(w);
        fail();
    }
    json_decref(w);
}

static int setup(void **state)
{
    *state = kr_fakehost_new();
    return 0;
}

static int teardown(void **state)
{
    kr_fakehost_free(*state);
    return 0;
}

static kr_coll *coll(void **state, const char *name)
{
    kr_coll *c = kr_db_coll(kr_fakehost_db(*state), name);
    assert_non_null(c);
    return c;
}

static void test_insert_ids(void **state)
{
    kr_coll *c = coll(state, "items");
    json_t *d = js("{\"n\":1}");
    char *id1 = NULL, *id2 = NULL;
    assert_int_equal(kr_db_insert_one(c, d, &id1), 0);
    assert_int_equal(kr_db_insert_one(c, d, &id2), 0);
    assert_int_equal(strlen(id1), 24);
    assert_int_equal(strspn(id1, "0123456789abcdef"), 24);
    assert_true(strcmp(id1, id2) < 0);
    assert_null(json_object_get(d, "_id")); /* borrowed, not modified */
    json_decref(d);
    free(id2);
    assert_int_equal(insert(c, "{\"_id\":\"fixed\",\"n\":2}"), 0);
    assert_int_equal(insert(c, "{\"_id\":\"fixed\",\"n\":3}"), KR_EDUPLICATE);
    assert_int_equal(insert(c, "{\"_id\":5}"), KR_EINVAL);
    assert_int_equal(insert(c, "{\"$x\":5}"), KR_EINVAL);
    json_t *one = NULL, *f = json_pack("{ss}", "_id", id1);
    assert_int_equal(kr_db_find_one(c, f, NULL, NULL, &one), 0);
    assert_string_equal(json_string_value(json_object_get(one, "_id")), id1);
    assert_string_equal(json_object_iter_key(json_object_iter(one)), "_id");
    json_decref(one);
    json_decref(f);
    free(id1);
    assert_null(kr_db_coll(kr_fakehost_db(*state), "1bad"));
    assert_null(kr_db_coll(kr_fakehost_db(*state), "bad-name"));
}

static void test_sort_skip_limit_projection(void **state)
{
    kr_coll *c = coll(state, "p");
    assert_int_equal(insert(c, "{\"_id\":\"a\",\"cat\":\"x\",\"price\":30,\"tags\":[5,1]}"), 0);
    assert_int_equal(insert(c, "{\"_id\":\"b\",\"cat\":\"y\",\"price\":10.5,\"tags\":[3]}"), 0);
    assert_int_equal(insert(c, "{\"_id\":\"c\",\"cat\":\"x\",\"price\":20,\"tags\":[]}"), 0);
    assert_int_equal(insert(c, "{\"_id\":\"d\",\"cat\":\"y\",\"price\":\"n/a\"}"), 0);
    assert_int_equal(insert(c, "{\"_id\":\"e\",\"cat\":\"x\"}"), 0);
    json_t *r = find(c, NULL, "{\"price\":1}", "{\"_id\":1}", 0, 0);
    assert_json(r, "[{\"_id\":\"e\"},{\"_id\":\"b\"},{\"_id\":\"c\"},{\"_id\":\"a\"},{\"_id\":\"d\"}]");
    json_decref(r);
    r = find(c, NULL, "{\"cat\":-1,\"price\":1}", "{\"price\":0,\"tags\":0}", 1, 2);
    assert_json(r, "[{\"_id\":\"d\",\"cat\":\"y\"},{\"_id\":\"e\",\"cat\":\"x\"}]");
    json_decref(r);
    /* arrays sort by their smallest element ascending, largest descending */
    r = find(c, "{\"tags\":{\"$exists\":true}}", "{\"tags\":1}", "{\"_id\":1}", 0, 0);
    assert_json(r, "[{\"_id\":\"c\"},{\"_id\":\"a\"},{\"_id\":\"b\"}]");
    json_decref(r);
    r = find(c, "{\"tags\":{\"$exists\":true}}", "{\"tags\":-1}", "{\"_id\":0,\"cat\":1}", 0, 1);
    assert_json(r, "[{\"cat\":\"x\"}]");
    json_decref(r);
    /* ties keep insertion order */
    r = find(c, "{\"cat\":\"x\"}", "{\"cat\":1}", "{\"_id\":1}", 0, 0);
    assert_json(r, "[{\"_id\":\"a\"},{\"_id\":\"c\"},{\"_id\":\"e\"}]");
    json_decref(r);
    int64_t n = -1;
    json_t *f = js("{\"cat\":\"x\"}");
    assert_int_equal(kr_db_count(c, f, &n), 0);
    assert_int_equal(n, 3);
    json_decref(f);
}

static void test_projection_paths(void **state)
{
    kr_coll *c = coll(state, "o");
    assert_int_equal(insert(c, "{\"_id\":\"o1\",\"user\":{\"id\":\"u\",\"phone\":\"+91\"},"
                               "\"items\":[{\"p\":\"a\",\"q\":1},{\"p\":\"b\",\"q\":2},7]}"),
                     0);
    json_t *r = find(c, NULL, NULL, "{\"user.id\":1,\"items.p\":1}", 0, 0);
    assert_json(r, "[{\"_id\":\"o1\",\"user\":{\"id\":\"u\"},\"items\":[{\"p\":\"a\"},{\"p\":\"b\"}]}]");
    json_decref(r);
    r = find(c, NULL, NULL, "{\"user.phone\":0,\"items.q\":0}", 0, 0);
    assert_json(r, "[{\"_id\":\"o1\",\"user\":{\"id\":\"u\"},\"items\":[{\"p\":\"a\"},{\"p\":\"b\"},7]}]");
    json_decref(r);
}

static void test_bad_arguments(void **state)
{
    kr_coll *c = coll(state, "empty");
    json_t *out = NULL, *bad = js("{\"a\":{\"$near\":1}}"), *upd = js("{\"$set\":{\"a\":1}}");
    /* refused even though nothing would be scanned */
    assert_int_equal(kr_db_find(c, bad, NULL, NULL, 0, 0, &out), KR_EINVAL);
    assert_non_null(strstr(kr_errmsg(c), "$near"));
    assert_int_equal(kr_db_count(c, bad, &(int64_t){0}), KR_EINVAL);
    assert_int_equal(kr_db_delete_many(c, bad, NULL), KR_EINVAL);
    assert_int_equal(kr_db_update_one(c, bad, upd, 0, NULL), KR_EINVAL);
    json_t *badupd = js("{\"$currentDate\":{\"a\":true}}"), *all = js("{}");
    assert_int_equal(kr_db_update_many(c, all, badupd, 0, NULL), KR_EINVAL);
    assert_non_null(strstr(kr_errmsg(c), "$currentDate"));
    json_t *badsort = js("{\"a\":2}"), *badproj = js("{\"a\":1,\"b\":0}");
    assert_int_equal(kr_db_find(c, all, badsort, NULL, 0, 0, &out), KR_EINVAL);
    assert_int_equal(kr_db_find(c, all, NULL, badproj, 0, 0, &out), KR_EINVAL);
    assert_int_equal(kr_db_find(c, all, NULL, NULL, -1, 0, &out), KR_EINVAL);
    assert_null(out);
    json_decref(bad);
    json_decref(upd);
    json_decref(badupd);
    json_decref(all);
    json_decref(badsort);
    json_decref(badproj);
}

static void test_update_and_upsert(void **state)
{
    kr_coll *c = coll(state, "u");
    assert_int_equal(insert(c, "{\"_id\":\"a\",\"g\":1,\"n\":0}"), 0);
    assert_int_equal(insert(c, "{\"_id\":\"b\",\"g\":1,\"n\":0}"), 0);
    assert_int_equal(insert(c, "{\"_id\":\"c\",\"g\":2,\"n\":5}"), 0);
    json_t *f = js("{\"g\":1}"), *u = js("{\"$inc\":{\"n\":1}}");
    kr_update_result res;
    assert_int_equal(kr_db_update_one(c, f, u, 0, &res), 0);
    assert_int_equal(res.matched, 1);
    assert_int_equal(res.modified, 1);
    assert_null(res.upserted_id);
    assert_int_equal(kr_db_update_many(c, f, u, 0, &res), 0);
    assert_int_equal(res.matched, 2);
    json_t *r = find(c, NULL, NULL, "{\"n\":1}", 0, 0);
    assert_json(r, "[{\"_id\":\"a\",\"n\":2},{\"_id\":\"b\",\"n\":1},{\"_id\":\"c\",\"n\":5}]");
    json_decref(r);
    json_t *same = js("{\"$set\":{\"g\":1}}");
    assert_int_equal(kr_db_update_many(c, f, same, 0, &res), 0);
    assert_int_equal(res.matched, 2);
    assert_int_equal(res.modified, 0);
    json_decref(same);
    json_decref(f);
    /* upsert: fields from the filter's equalities, then the update */
    f = js("{\"g\":9,\"k\":{\"$gt\":0}}");
    json_t *up = js("{\"$set\":{\"x\":1},\"$setOnInsert\":{\"created\":true}}");
    assert_int_equal(kr_db_update_one(c, f, up, KR_DB_UPSERT, &res), 0);
    assert_int_equal(res.matched, 0);
    assert_non_null(res.upserted_id);
    assert_int_equal(strlen(res.upserted_id), 24);
    json_t *g9 = js("{\"g\":9}"), *noid = js("{\"_id\":0}"), *doc = NULL;
    assert_int_equal(kr_db_find_one(c, g9, NULL, noid, &doc), 0);
    json_decref(noid);
    assert_json(doc, "{\"g\":9,\"x\":1,\"created\":true}");
    json_decref(doc);
    free(res.upserted_id);
    /* a second upsert matches and leaves $setOnInsert alone */
    json_t *up2 = js("{\"$set\":{\"x\":2},\"$setOnInsert\":{\"created\":false}}");
    assert_int_equal(kr_db_update_one(c, g9, up2, KR_DB_UPSERT, &res), 0);
    assert_int_equal(res.matched, 1);
    assert_null(res.upserted_id);
    json_decref(up2);
    json_decref(g9);
    json_decref(f);
    json_decref(up);
    json_decref(u);
}

static void test_find_one_and_update(void **state)
{
    kr_coll *c = coll(state, "orders");
    assert_int_equal(insert(c, "{\"_id\":\"o1\",\"status\":\"pending\",\"v\":0}"), 0);
    json_t *f = js("{\"_id\":\"o1\",\"status\":\"pending\"}"),
           *u = js("{\"$set\":{\"status\":\"placed\"},\"$inc\":{\"v\":1}}"), *out = NULL;
    assert_int_equal(kr_db_find_one_and_update(c, f, u, NULL, 0, &out), 0);
    assert_json(out, "{\"_id\":\"o1\",\"status\":\"pending\",\"v\":0}");
    json_decref(out);
    /* the guard no longer holds: the loser of a race sees KR_ENOTFOUND */
    assert_int_equal(kr_db_find_one_and_update(c, f, u, NULL, KR_DB_RETURN_AFTER, &out), KR_ENOTFOUND);
    assert_null(out);
    json_decref(f);
    f = js("{\"_id\":\"o1\",\"status\":\"placed\"}");
    json_t *u2 = js("{\"$set\":{\"status\":\"confirmed\"},\"$inc\":{\"v\":1}}");
    assert_int_equal(kr_db_find_one_and_update(c, f, u2, NULL, KR_DB_RETURN_AFTER, &out), 0);
    assert_json(out, "{\"_id\":\"o1\",\"status\":\"confirmed\",\"v\":2}");
    json_decref(out);
    /* sort picks which document; upsert with and without RETURN_AFTER */
    assert_int_equal(insert(c, "{\"_id\":\"q1\",\"queue\":1,\"at\":5}"), 0);
    assert_int_equal(insert(c, "{\"_id\":\"q2\",\"queue\":1,\"at\":3}"), 0);
    json_t *fq = js("{\"queue\":1}"), *claim = js("{\"$set\":{\"claimed\":true}}"), *s = js("{\"at\":1}");
    assert_int_equal(kr_db_find_one_and_update(c, fq, claim, s, KR_DB_RETURN_AFTER, &out), 0);
    assert_string_equal(json_string_value(json_object_get(out, "_id")), "q2");
    json_decref(out);
    json_t *fnew = js("{\"_id\":\"n1\"}");
    assert_int_equal(kr_db_find_one_and_update(c, fnew, claim, NULL, KR_DB_UPSERT, &out), 0);
    assert_null(out);
    json_t *fnew2 = js("{\"_id\":\"n2\"}");
    assert_int_equal(kr_db_find_one_and_update(c, fnew2, claim, NULL, KR_DB_UPSERT | KR_DB_RETURN_AFTER, &out), 0);
    assert_json(out, "{\"_id\":\"n2\",\"claimed\":true}");
    json_decref(out);
    json_decref(fnew);
    json_decref(fnew2);
    json_decref(fq);
    json_decref(claim);
    json_decref(s);
    json_decref(f);
    json_decref(u);
    json_decref(u2);
}

static void test_unique_indexes(void **state)
{
    kr_coll *c = coll(state, "users");
    json_t *k = js("{\"phone\":1}");
    assert_int_equal(kr_db_create_index(c, k, KR_DB_UNIQUE, NULL), 0);
    assert_int_equal(kr_db_create_index(c, k, KR_DB_UNIQUE, NULL), 0); /* idempotent */
    assert_int_equal(kr_db_create_index(c, k, 0, "phone_1"), KR_ECONFLICT);
    assert_int_equal(insert(c, "{\"_id\":\"u1\",\"phone\":\"+911\"}"), 0);
    assert_int_equal(insert(c, "{\"_id\":\"u2\",\"phone\":\"+911\"}"), KR_EDUPLICATE);
    assert_non_null(strstr(kr_errmsg(c), "phone_1"));
    assert_int_equal(insert(c, "{\"_id\":\"u2\",\"phone\":\"+912\"}"), 0);
    /* an update into a taken key fails and changes nothing */
    json_t *f = js("{\"_id\":\"u2\"}"), *u = js("{\"$set\":{\"phone\":\"+911\",\"name\":\"x\"}}"), *doc = NULL;
    assert_int_equal(kr_db_update_one(c, f, u, 0, NULL), KR_EDUPLICATE);
    assert_int_equal(kr_db_find_one(c, f, NULL, NULL, &doc), 0);
    assert_json(doc, "{\"_id\":\"u2\",\"phone\":\"+912\"}");
    json_decref(doc);
    /* updating a document without changing its key is fine */
    json_t *u2 = js("{\"$set\":{\"name\":\"y\"}}");
    assert_int_equal(kr_db_update_one(c, f, u2, 0, NULL), 0);
    /* compound and multikey */
    kr_coll *m = coll(state, "multi");
    json_t *k2 = js("{\"a\":1,\"b\":-1}");
    assert_int_equal(kr_db_create_index(m, k2, KR_DB_UNIQUE, "ab"), 0);
    assert_int_equal(insert(m, "{\"a\":1,\"b\":[1,2]}"), 0);
    assert_int_equal(insert(m, "{\"a\":2,\"b\":2}"), 0);
    assert_int_equal(insert(m, "{\"a\":1,\"b\":2}"), KR_EDUPLICATE);
    assert_int_equal(insert(m, "{\"a\":1,\"b\":3}"), 0);
    /* a unique index over existing duplicates is refused */
    kr_coll *d = coll(state, "dups");
    assert_int_equal(insert(d, "{\"x\":1}"), 0);
    assert_int_equal(insert(d, "{\"x\":1.0}"), 0);
    json_t *kx = js("{\"x\":1}");
    assert_int_equal(kr_db_create_index(d, kx, KR_DB_UNIQUE, NULL), KR_EDUPLICATE);
    assert_int_equal(kr_db_create_index(d, kx, 0, NULL), 0);
    json_t *kbad = js("{\"x\":\"text\"}");
    assert_int_equal(kr_db_create_index(d, kbad, 0, NULL), KR_EINVAL);
    json_decref(kbad);
    json_decref(kx);
    json_decref(k);
    json_decref(k2);
    json_decref(f);
    json_decref(u);
    json_decref(u2);
}

static void test_delete(void **state)
{
    kr_coll *c = coll(state, "del");
    for (int i = 0; i < 5; i++)
        assert_int_equal(insert(c, i % 2 ? "{\"odd\":true}" : "{\"odd\":false}"), 0);
    json_t *f = js("{\"odd\":false}");
    int64_t n = 0;
    assert_int_equal(kr_db_delete_one(c, f, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(kr_db_delete_many(c, f, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(kr_db_delete_many(c, f, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(kr_db_count(c, NULL, &n), 0);
    assert_int_equal(n, 2);
    json_decref(f);
}

static void test_injected_failures(void **state)
{
    kr_coll *c = coll(state, "f");
    kr_fakehost_fail_db(*state, KR_EUNAVAILABLE, 2);
    assert_int_equal(insert(c, "{\"a\":1}"), KR_EUNAVAILABLE);
    json_t *out = NULL;
    assert_int_equal(kr_db_find(c, NULL, NULL, NULL, 0, 0, &out), KR_EUNAVAILABLE);
    assert_null(out);
    assert_int_equal(insert(c, "{\"a\":1}"), 0);
    int64_t n;
    assert_int_equal(kr_db_count(c, NULL, &n), 0);
    assert_int_equal(n, 1);
}

/* The reserve guard of DESIGN.md from 50 threads: exactly stock-many win. */
typedef struct race {
    kr_coll *c;
    int won;
} race;

static void *reserve(void *arg)
{
    race *r = arg;
    json_t *f = json_pack("{ss s{si}}", "_id", "p1", "stock", "$gte", 1);
    json_t *u = json_pack("{s{si si}}", "$inc", "stock", -1, "reserved", 1);
    json_t *out = NULL;
    r->won = kr_db_find_one_and_update(r->c, f, u, NULL, KR_DB_RETURN_AFTER, &out) == 0;
    json_decref(out);
    json_decref(f);
    json_decref(u);
    return NULL;
}

static void test_guarded_race(void **state)
{
    kr_coll *c = coll(state, "products");
    assert_int_equal(insert(c, "{\"_id\":\"p1\",\"stock\":10,\"reserved\":0}"), 0);
    pthread_t th[50];
    race r[50];
    for (int i = 0; i < 50; i++) {
        r[i] = (race){c, 0};
        assert_int_equal(pthread_create(&th[i], NULL, reserve, &r[i]), 0);
    }
    int won = 0;
    for (int i = 0; i < 50; i++) {
        pthread_join(th[i], NULL);
        won += r[i].won;
    }
    assert_int_equal(won, 10);
    json_t *doc = NULL;
    assert_int_equal(kr_db_find_one(c, NULL, NULL, NULL, &doc), 0);
    assert_json(doc, "{\"_id\":\"p1\",\"stock\":0,\"reserved\":10}");
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_insert_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sort_skip_limit_projection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_projection_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_and_upsert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_find_one_and_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unique_indexes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_injected_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guarded_race, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
