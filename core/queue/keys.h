/* Core queue: the Redis key names of one BullMQ queue (`<prefix>:<queue>:<type>`). */
#ifndef KRC_QUEUE_KEYS_H
#define KRC_QUEUE_KEYS_H

#define KRC_QUEUE_NAME_MAX 128
#define KRC_QUEUE_PREFIX_MAX 64
#define KRC_QKEY_MAX (KRC_QUEUE_PREFIX_MAX + KRC_QUEUE_NAME_MAX + 24)

typedef struct krc_qkeys {
    char base[KRC_QKEY_MAX]; /* "<prefix>:<queue>:", the job key prefix */
    char wait[KRC_QKEY_MAX];
    char active[KRC_QKEY_MAX];
    char paused[KRC_QKEY_MAX];
    char delayed[KRC_QKEY_MAX];
    char prioritized[KRC_QKEY_MAX];
    char completed[KRC_QKEY_MAX];
    char failed[KRC_QKEY_MAX];
    char stalled[KRC_QKEY_MAX];
    char stalled_check[KRC_QKEY_MAX];
    char limiter[KRC_QKEY_MAX];
    char meta[KRC_QKEY_MAX];
    char id[KRC_QKEY_MAX];
    char events[KRC_QKEY_MAX];
    char pc[KRC_QKEY_MAX];
    char marker[KRC_QKEY_MAX];
    char repeat[KRC_QKEY_MAX];
} krc_qkeys;

/* any thread. 1 if name is a queue name kirana accepts: [A-Za-z0-9_.-],
 * 1..KRC_QUEUE_NAME_MAX-1 characters (BullMQ itself only forbids ':'; the
 * narrower set keeps names safe in keys, metric labels and logs). */
int krc_qname_valid(const char *name);
/* any thread. 1 if prefix is usable: printable, no space, no ':' at either
 * end, 1..KRC_QUEUE_PREFIX_MAX-1 characters ("bull", "{bull}"). */
int krc_qprefix_valid(const char *prefix);
/* any thread. Fills k; prefix and queue must be valid. */
void krc_qkeys_init(krc_qkeys *k, const char *prefix, const char *queue);

#endif
