/* The fake host's queue: BullMQ options, attempts and backoff on the fake
 * clock, results, discards and removal, run through a plugin's consumer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kirana/fakehost.h"

/* What the consumer does with each job, by the job's data.mode. */
typedef struct worker {
    int runs;
    char order[64];
} worker;

static int consume(kr_job *job, void *udata)
{
    worker *w = udata;
    w->runs++;
    strncat(w->order, kr_job_id(job), sizeof(w->order) - strlen(w->order) - 1);
    const char *mode = json_string_value(json_object_get(kr_job_data(job), "mode"));
    if (mode == NULL || strcmp(mode, "ok") == 0) {
        kr_job_set_result(job, json_pack("{si}", "attempt", kr_job_attempts_made(job)));
        return 0;
    }
    if (strcmp(mode, "flaky") == 0 && kr_job_attempts_made(job) >= 2)
        return 0;
    if (strcmp(mode, "discard") == 0)
        kr_job_discard(job);
    kr_job_set_failure(job, "it broke");
    return KR_EUNAVAILABLE;
}

static worker the_worker;

static int init(kr_plugin_ctx *ctx)
{
    return kr_queue_consume(ctx, "work", 2, consume, &the_worker);
}

static const kr_plugin plugin = {KR_PLUGIN_HEADER, .name = "worker", .version = "1", .init = init};

static int setup(void **state)
{
    memset(&the_worker, 0, sizeof(the_worker));
    kr_fakehost *fh = kr_fakehost_new();
    assert_non_null(kr_fakehost_load(fh, &plugin, NULL, NULL));
    *state = fh;
    return 0;
}

static int teardown(void **state)
{
    kr_fakehost_free(*state);
    return 0;
}

static char *add(kr_fakehost *fh, const char *mode, const char *opts)
{
    json_t *data = json_pack("{ss}", "mode", mode), *o = opts != NULL ? json_loads(opts, 0, NULL) : NULL;
    char *id = NULL;
    assert_int_equal(kr_queue_add(kr_fakehost_queue(fh), "work", "job", data, o, &id), 0);
    json_decref(data);
    json_decref(o);
    return id;
}

static const char *state_of(kr_fakehost *fh, const char *id, json_t **keep)
{
    *keep = kr_fakehost_job(fh, "work", id);
    assert_non_null(*keep);
    return json_string_value(json_object_get(*keep, "state"));
}

static void test_complete_with_result(void **state)
{
    kr_fakehost *fh = *state;
    char *id = add(fh, "ok", NULL);
    assert_string_equal(id, "1");
    assert_int_equal(kr_fakehost_jobs(fh, "work"), 1);
    assert_int_equal(kr_fakehost_run_jobs(fh, "work"), 1);
    assert_int_equal(kr_fakehost_jobs(fh, "work"), 0);
    json_t *j;
    assert_string_equal(state_of(fh, id, &j), "completed");
    assert_int_equal(json_integer_value(json_object_get(j, "attempts_made")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "result"), "attempt")), 0);
    json_decref(j);
    free(id);
    assert_int_equal(kr_fakehost_run_jobs(fh, "work"), 0);
    assert_int_equal(kr_fakehost_run_jobs(fh, "nobody"), KR_ENOTFOUND);
}

static void test_job_id_dedup(void **state)
{
    kr_fakehost *fh = *state;
    char *a = add(fh, "ok", "{\"jobId\":\"order-o1\"}"), *b = add(fh, "fail", "{\"jobId\":\"order-o1\"}");
    assert_string_equal(a, "order-o1");
    assert_string_equal(b, "order-o1");
    assert_int_equal(kr_fakehost_jobs(fh, NULL), 1);
    assert_int_equal(kr_fakehost_drain(fh, "work"), 1);
    json_t *j;
    assert_string_equal(state_of(fh, a, &j), "completed"); /* the first data won */
    json_decref(j);
    free(a);
    free(b);
}

static void test_attempts_and_backoff(void **state)
{
    kr_fakehost *fh = *state;
    char *id = add(fh, "flaky", "{\"attempts\":5,\"backoff\":{\"type\":\"exponential\",\"delay\":1000}}");
    assert_int_equal(kr_fakehost_run_jobs(fh, "work"), 1);
    json_t *j;
    assert_string_equal(state_of(fh, id, &j), "delayed");
    assert_string_equal(json_string_value(json_object_get(j, "failed_reason")), "it broke");
    json_decref(j);
    assert_int_equal(kr_fakehost_run_jobs(fh, "work"), 0); /* backoff not over */
    kr_fakehost_advance(fh, 1000);
    assert_int_equal(kr_fakehost_run_jobs(fh, "work"), 1);
    kr_fakehost_advance(fh, 1999);
    assert_int_equal(kr_fakehost_run_jobs(fh, "work"), 0); /* 2000 ms the second time */
    kr_fakehost_advance(fh, 1);
    assert_int_equal(kr_fakehost_run_jobs(fh, "work"), 1);
    assert_string_equal(state_of(fh, id, &j), "completed");
    assert_int_equal(json_integer_value(json_object_get(j, "attempts_made")), 3);
    json_decref(j);
    free(id);
    assert_int_equal(kr_fakehost_log_count(fh, KR_LOG_WARN, "will retry"), 2);
}

static void test_attempts_exhausted_and_discard(void **state)
{
    kr_fakehost *fh = *state;
    char *a = add(fh, "fail", "{\"attempts\":3,\"backoff\":500}");
    char *b = add(fh, "discard", "{\"attempts\":3}");
    int64_t t0 = kr_fakehost_now_ms(fh);
    assert_int_equal(kr_fakehost_drain(fh, NULL), 4);
    assert_int_equal(kr_fakehost_now_ms(fh) - t0, 1000); /* two fixed backoffs */
    json_t *j;
    assert_string_equal(state_of(fh, a, &j), "failed");
    assert_int_equal(json_integer_value(json_object_get(j, "attempts_made")), 3);
    json_decref(j);
    assert_string_equal(state_of(fh, b, &j), "failed");
    assert_int_equal(json_integer_value(json_object_get(j, "attempts_made")), 1);
    json_decref(j);
    free(a);
    free(b);
}

static void test_delay_priority_and_removal(void **state)
{
    kr_fakehost *fh = *state;
    free(add(fh, "ok", "{\"delay\":5000,\"jobId\":\"later\"}"));
    free(add(fh, "ok", "{\"priority\":2,\"jobId\":\"p2\"}"));
    free(add(fh, "ok", "{\"priority\":1,\"jobId\":\"p1\"}"));
    free(add(fh, "ok", "{\"jobId\":\"plain\",\"removeOnComplete\":true}"));
    assert_int_equal(kr_fakehost_run_jobs(fh, "work"), 3);
    assert_string_equal(the_worker.order, "plainp1p2");
    assert_null(kr_fakehost_job(fh, "work", "plain"));
    json_t *j;
    assert_string_equal(state_of(fh, "later", &j), "delayed");
    json_decref(j);
    assert_int_equal(kr_fakehost_drain(fh, "work"), 1);
    /* removeOnComplete: N trims the queue's completed jobs to the newest N,
     * as BullMQ does with its completed set */
    for (int i = 0; i < 3; i++)
        free(add(fh, "ok", "{\"removeOnComplete\":1}"));
    assert_int_equal(kr_fakehost_run_jobs(fh, "work"), 3);
    json_t *all = kr_fakehost_job_list(fh, "work");
    assert_int_equal(json_array_size(all), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(all, 0), "id")), "3");
    json_decref(all);
}

static void test_bad_options(void **state)
{
    kr_fakehost *fh = *state;
    kr_queue *q = kr_fakehost_queue(fh);
    static const char *const bad[] = {
        "{\"lifo\":true}", "{\"attempts\":0}",           "{\"jobId\":\"42\"}", "{\"backoff\":{\"type\":\"linear\"}}",
        "{\"delay\":-1}",  "{\"removeOnFail\":\"yes\"}",
    };
    json_t *data = json_object();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *o = json_loads(bad[i], 0, NULL);
        assert_int_equal(kr_queue_add(q, "work", "job", data, o, NULL), KR_EINVAL);
        json_decref(o);
    }
    json_t *notobj = json_array();
    assert_int_equal(kr_queue_add(q, "work", "job", notobj, NULL, NULL), KR_EINVAL);
    json_decref(notobj);
    kr_fakehost_fail_queue(fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(kr_queue_add(q, "work", "job", data, NULL, NULL), KR_EUNAVAILABLE);
    assert_int_equal(kr_queue_add(q, "work", "job", data, NULL, NULL), 0);
    assert_int_equal(kr_fakehost_jobs(fh, "work"), 1);
    json_decref(data);
}

/* A process without the worker role records consumers and ignores them. */
static void test_http_only_process(void **state)
{
    (void)state;
    kr_fakehost *fh = kr_fakehost_new();
    assert_int_equal(kr_fakehost_set_roles(fh, (const char *const[]){"http", NULL}), 0);
    assert_non_null(kr_fakehost_load(fh, &plugin, NULL, NULL));
    free(add(fh, "ok", NULL));
    assert_int_equal(kr_fakehost_run_jobs(fh, "work"), KR_ENOTFOUND);
    assert_int_equal(kr_fakehost_drain(fh, NULL), 0);
    assert_int_equal(kr_fakehost_jobs(fh, "work"), 1);
    kr_fakehost_free(fh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_complete_with_result, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_id_dedup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attempts_and_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attempts_exhausted_and_discard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delay_priority_and_removal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_options, setup, teardown),
        cmocka_unit_test(test_http_only_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
