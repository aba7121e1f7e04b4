#include "core/queue/keys.h"

#include <stdio.h>
#include <string.h>

int krc_qname_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= KRC_QUEUE_NAME_MAX)
        return 0;
    for (const char *p = name; *p != '\0'; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-'))
            return 0;
    }
    return 1;
}

int krc_qprefix_valid(const char *prefix)
{
    size_t n = strlen(prefix);
    if (n == 0 || n >= KRC_QUEUE_PREFIX_MAX || prefix[0] == ':' || prefix[n - 1] == ':')
        return 0;
    for (const char *p = prefix; *p != '\0'; p++)
        if (*p <= ' ' || *p > '~')
            return 0;
    return 1;
}

static void key(char *out, const char *prefix, const char *queue, const char *type)
{
    snprintf(out, KRC_QKEY_MAX, "%s:%s:%s", prefix, queue, type);
}

void krc_qkeys_init(krc_qkeys *k, const char *prefix, const char *queue)
{
    key(k->base, prefix, queue, "");
    key(k->wait, prefix, queue, "wait");
    key(k->active, prefix, queue, "active");
    key(k->paused, prefix, queue, "paused");
    key(k->delayed, prefix, queue, "delayed");
    key(k->prioritized, prefix, queue, "prioritized");
    key(k->completed, prefix, queue, "completed");
    key(k->failed, prefix, queue, "failed");
    key(k->stalled, prefix, queue, "stalled");
    key(k->stalled_check, prefix, queue, "stalled-check");
    key(k->limiter, prefix, queue, "limiter");
    key(k->meta, prefix, queue, "meta");
    key(k->id, prefix, queue, "id");
    key(k->events, prefix, queue, "events");
    key(k->pc, prefix, queue, "pc");
    key(k->marker, prefix, queue, "marker");
    key(k->repeat, prefix, queue, "repeat");
}
