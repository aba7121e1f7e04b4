#include "core/server/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct krc_arena_chunk {
    krc_arena_chunk *next;
    max_align_t data[];
};

void krc_arena_init(krc_arena *a)
{
    a->chunks = NULL;
    a->cur = a->inline_buf;
    a->left = sizeof(a->inline_buf);
}

void *krc_arena_alloc(krc_arena *a, size_t size)
{
    uintptr_t p = ((uintptr_t)a->cur + 15) & ~(uintptr_t)15;
    size_t pad = p - (uintptr_t)a->cur;
    if (size + pad > a->left) {
        size_t want = size + 16 > 8192 ? size + 16 : 8192;
        krc_arena_chunk *c = malloc(sizeof(*c) + want);
        if (c == NULL)
            return NULL;
        c->next = a->chunks;
        a->chunks = c;
        a->cur = (char *)c->data;
        a->left = want;
        p = ((uintptr_t)a->cur + 15) & ~(uintptr_t)15;
        pad = p - (uintptr_t)a->cur;
    }
    a->cur += pad + size;
    a->left -= pad + size;
    return (void *)p;
}

char *krc_arena_strndup(krc_arena *a, const char *s, size_t len)
{
    char *d = krc_arena_alloc(a, len + 1);
    if (d != NULL) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

void krc_arena_free(krc_arena *a)
{
    while (a->chunks != NULL) {
        krc_arena_chunk *n = a->chunks->next;
        free(a->chunks);
        a->chunks = n;
    }
    krc_arena_init(a);
}
