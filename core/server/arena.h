/* Core: a per-request arena. Allocations live until the arena is reset;
 * one thread at a time (the request's owner). */
#ifndef KRC_SERVER_ARENA_H
#define KRC_SERVER_ARENA_H

#include <stddef.h>

typedef struct krc_arena_chunk krc_arena_chunk;

typedef struct krc_arena {
    krc_arena_chunk *chunks;
    char *cur;
    size_t left;
    /* First chunk lives inside the request object: most requests never
     * call malloc for their arena. */
    char inline_buf[2048];
} krc_arena;

/* owner thread. */
void krc_arena_init(krc_arena *a);
/* owner thread. 16-byte aligned; NULL when out of memory. */
void *krc_arena_alloc(krc_arena *a, size_t size);
/* owner thread. Copies len bytes and adds a NUL. */
char *krc_arena_strndup(krc_arena *a, const char *s, size_t len);
/* owner thread. Frees every chunk. */
void krc_arena_free(krc_arena *a);

#endif
