/* Core: which kind of thread is running.
 *
 * Event-loop threads must never block. Blocking subsystems (DB, Redis,
 * queue) call KRC_ASSERT_MAY_BLOCK() on entry; debug builds abort when it
 * fires on a loop thread, so a misplaced call is found by the test suite. */
#ifndef KRC_THREAD_H
#define KRC_THREAD_H

#include <stdbool.h>

/* loop thread: called once when an event-loop thread starts. */
void krc_thread_mark_loop(void);
/* any thread. */
bool krc_thread_is_loop(void);

#ifdef NDEBUG
#define KRC_ASSERT_MAY_BLOCK() ((void)0)
#else
void krc_thread_blocking_violation(const char *func);
#define KRC_ASSERT_MAY_BLOCK()                                                 \
    do {                                                                       \
        if (krc_thread_is_loop())                                              \
            krc_thread_blocking_violation(__func__);                           \
    } while (0)
#endif

#endif
