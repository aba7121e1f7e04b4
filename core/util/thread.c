#include "core/util/thread.h"

#include <stdio.h>
#include <stdlib.h>

static __thread bool is_loop;

void krc_thread_mark_loop(void) { is_loop = true; }

bool krc_thread_is_loop(void) { return is_loop; }

void krc_thread_blocking_violation(const char *func)
{
    fprintf(stderr, "kirana: %s would block an event-loop thread\n", func);
    abort();
}
