/* Core queue: calling BullMQ's Lua scripts (EVALSHA, SCRIPT LOAD on NOSCRIPT).
 *
 * The scripts come from the generated header of the pinned bullmq package;
 * the key counts the C side passes are checked against it once, so a bullmq
 * upgrade that changes a script's keys fails at startup, not on a job. */
#ifndef KRC_QUEUE_SCRIPT_H
#define KRC_QUEUE_SCRIPT_H

#include <hiredis/hiredis.h>
#include <stddef.h>

typedef enum krc_script_id {
    KRC_S_ADD_STANDARD,
    KRC_S_ADD_DELAYED,
    KRC_S_ADD_PRIORITIZED,
    KRC_S_MOVE_TO_ACTIVE,
    KRC_S_EXTEND_LOCK,
    KRC_S_MOVE_TO_FINISHED,
    KRC_S_MOVE_TO_DELAYED,
    KRC_S_RETRY_JOB,
    KRC_S_MOVE_STALLED,
    KRC_S_GET_COUNTS,
    KRC_S_COUNT
} krc_script_id;

#define KRC_QARGS_MAX 32

/* Arguments of one script call: keys first, then ARGV. */
typedef struct krc_qargs {
    int n;
    int overflow;
    const char *v[KRC_QARGS_MAX];
    size_t len[KRC_QARGS_MAX];
    char *owned[KRC_QARGS_MAX];
    int nowned;
    char num[KRC_QARGS_MAX][24];
} krc_qargs;

/* any thread. */
void krc_qargs_init(krc_qargs *a);
/* any thread. s is borrowed until the call is made. */
void krc_qargs_str(krc_qargs *a, const char *s);
void krc_qargs_buf(krc_qargs *a, const char *s, size_t len);
/* any thread. Printed into the args' own storage. */
void krc_qargs_int(krc_qargs *a, long long v);
/* any thread. Takes ownership of buf (malloc()ed); freed by krc_qargs_free. */
void krc_qargs_own(krc_qargs *a, char *buf, size_t len);
/* any thread. */
void krc_qargs_free(krc_qargs *a);

/* any thread, idempotent. 0, or -1 with a reason in err when the generated
 * scripts lack one the queue needs or its key count changed. */
int krc_scripts_check(char *err, size_t errlen);

/* worker or job thread. Runs script id with a (numkeys from the script).
 * 0 with *out caller-owned (freeReplyObject); KR_EUNAVAILABLE on an I/O
 * error (c is then unusable), KR_EINTERNAL on an error reply. */
int krc_script_call(redisContext *c, krc_script_id id, const krc_qargs *a, redisReply **out);

#endif
