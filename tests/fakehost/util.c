/* Fake host: allocation helpers shared by its files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void oom(void)
{
    fputs("kr_fakehost: out of memory\n", stderr);
    abort();
}

void *krf_xmalloc(size_t n)
{
    void *p = malloc(n != 0 ? n : 1);
    if (p == NULL)
        oom();
    return p;
}

void *krf_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n != 0 ? n : 1, size != 0 ? size : 1);
    if (p == NULL)
        oom();
    return p;
}

void *krf_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n != 0 ? n : 1);
    if (q == NULL)
        oom();
    return q;
}

char *krf_xstrdup(const char *s)
{
    return krf_xstrndup(s, strlen(s));
}

char *krf_xstrndup(const char *s, size_t n)
{
    char *p = krf_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void krf_grow(void *arr, size_t *cap, size_t n, size_t size)
{
    void **a = arr;
    if (n < *cap)
        return;
    size_t c = *cap != 0 ? *cap * 2 : 8;
    while (c <= n)
        c *= 2;
    *a = krf_xrealloc(*a, c * size);
    *cap = c;
}
