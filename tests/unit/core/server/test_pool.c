/* The worker pool: every task runs once, the bound is enforced, stop drains. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/server/pool.h"

typedef struct job {
    krc_task task;
    atomic_int *counter;
    int sleep_us;
} job;

static void run(krc_task *t)
{
    job *j = (job *)t;
    if (j->sleep_us)
        usleep((useconds_t)j->sleep_us);
    atomic_fetch_add(j->counter, 1);
}

static krc_task *one(job *j)
{
    j->task.fn = run;
    j->task.next = NULL;
    return &j->task;
}

static void every_task_runs_once(void **state)
{
    (void)state;
    enum { N = 20000 };
    krc_pool *p = krc_pool_new(4, N);
    assert_non_null(p);
    atomic_int counter = 0;
    job *jobs = calloc(N, sizeof(job));
    /* in batches, as loop threads submit */
    for (int i = 0; i < N; i += 100) {
        krc_task *head = NULL;
        for (int k = i + 99; k >= i; k--) {
            jobs[k].counter = &counter;
            jobs[k].task.fn = run;
            jobs[k].task.next = head;
            head = &jobs[k].task;
        }
        assert_null(krc_pool_submit_list(p, head));
    }
    krc_pool_stop(p);
    assert_int_equal(atomic_load(&counter), N);
    krc_pool_free(p);
    free(jobs);
}

static void full_queue_returns_the_rest(void **state)
{
    (void)state;
    krc_pool *p = krc_pool_new(1, 2);
    atomic_int counter = 0;
    job blocker = {.counter = &counter, .sleep_us = 200000};
    usleep(20000); /* the worker is waiting for work */
    assert_null(krc_pool_submit_list(p, one(&blocker)));
    usleep(50000); /* the worker is now busy with the blocker: nobody is idle */
    job j[4];
    krc_task *head = NULL;
    for (int i = 3; i >= 0; i--) {
        j[i] = (job){.counter = &counter};
        j[i].task.fn = run;
        j[i].task.next = head;
        head = &j[i].task;
    }
    krc_task *rest = krc_pool_submit_list(p, head);
    assert_ptr_equal(rest, &j[2].task);
    assert_ptr_equal(rest->next, &j[3].task);
    assert_null(rest->next->next);
    assert_int_equal(krc_pool_depth(p), 2);
    krc_pool_stop(p);
    assert_int_equal(atomic_load(&counter), 3);
    krc_pool_free(p);
}

static void stopped_pool_refuses(void **state)
{
    (void)state;
    krc_pool *p = krc_pool_new(2, 10);
    krc_pool_stop(p);
    atomic_int counter = 0;
    job j = {.counter = &counter};
    assert_ptr_equal(krc_pool_submit_list(p, one(&j)), &j.task);
    krc_pool_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_task_runs_once),
        cmocka_unit_test(full_queue_returns_the_rest),
        cmocka_unit_test(stopped_pool_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
