#include "core/redis/reply.h"

#include <stdlib.h>
#include <string.h>

#include "core/util/err.h"

int krc_redis_reply_copy(const redisReply *r, kr_redis_reply **out)
{
    int rc = KR_OK;
    kr_redis_reply *n = calloc(1, sizeof(*n));
    if (n == NULL)
        goto oom;
    switch (r->type) {
    case REDIS_REPLY_NIL:
        n->type = KR_REDIS_NIL;
        break;
    case REDIS_REPLY_INTEGER:
        n->type = KR_REDIS_INTEGER;
        n->integer = r->integer;
        break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        n->type = r->type == REDIS_REPLY_ERROR ? KR_REDIS_ERROR : KR_REDIS_STRING;
        n->str = malloc(r->len + 1);
        if (n->str == NULL)
            goto oom;
        memcpy(n->str, r->str, r->len);
        n->str[r->len] = '\0';
        n->len = r->len;
        break;
    case REDIS_REPLY_ARRAY:
        n->type = KR_REDIS_ARRAY;
        if (r->elements == 0)
            break;
        n->element = calloc(r->elements, sizeof(*n->element));
        if (n->element == NULL)
            goto oom;
        n->elements = r->elements;
        for (size_t i = 0; i < r->elements && rc == KR_OK; i++)
            rc = krc_redis_reply_copy(r->element[i], &n->element[i]);
        break;
    default:
        rc = krc_err_set(KR_EINTERNAL, "redis: unexpected reply type %d", r->type);
    }
    if (rc != KR_OK) {
        krc_redis_reply_free(n);
        n = NULL;
    }
    *out = n;
    return rc;
oom:
    krc_redis_reply_free(n);
    *out = NULL;
    return krc_err_set(KR_ENOMEM, "redis: out of memory copying a reply");
}

void krc_redis_reply_free(kr_redis_reply *reply)
{
    if (reply == NULL)
        return;
    for (size_t i = 0; i < reply->elements; i++)
        krc_redis_reply_free(reply->element[i]);
    free(reply->element);
    free(reply->str);
    free(reply);
}

void krc_redis_replies_free(kr_redis_reply **replies, size_t n)
{
    if (replies == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        krc_redis_reply_free(replies[i]);
    free(replies);
}
