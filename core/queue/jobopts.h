/* Core queue: BullMQ JobsOptions — checked and stored as Node's Queue.add
 * stores them, and read back for the decisions BullMQ's Worker makes when an
 * attempt ends (retry or not, after which delay, how many jobs to keep). */
#ifndef KRC_QUEUE_JOBOPTS_H
#define KRC_QUEUE_JOBOPTS_H

#include <jansson.h>

/* BullMQ's PRIORITY_LIMIT: 2^21 - 1. */
#define KRC_JOB_PRIORITY_MAX 2097151

/* any thread. Checks kirana's subset of JobsOptions (jobId, attempts,
 * backoff, delay, priority, removeOnComplete, removeOnFail; opts may be
 * NULL) and returns them as Node's Job stores them: attempts defaulted to 0,
 * a numeric backoff as {type: "fixed", delay}. *out caller-owned. KR_EINVAL
 * naming the option otherwise. */
int krc_jobopts_normalize(const json_t *opts, json_t **out);
/* any thread. 1 if id can be a custom job id (not "0", no "0:" prefix, not an
 * integer, no ':' unless in three parts, as BullMQ checks). */
int krc_jobopts_id_valid(const char *id);
/* any thread. Whole-number member of opts (NULL is fine), else def. */
long long krc_jobopts_int(const json_t *opts, const char *key, long long def);
/* any thread. moveToFinished's keepJobs for a removeOnComplete/removeOnFail
 * value (NULL when absent): {count: -1} keeps all, {count: 0} none.
 * Caller-owned. */
json_t *krc_jobopts_keep(const json_t *remove);
/* any thread. Delay before attempt number `attempt` (1 for the first retry's
 * decision, i.e. attemptsMade + 1) per BullMQ's fixed and exponential
 * backoffs; rnd in [0, 1) drives jitter. 0 without backoff (retry at once),
 * -1 for a strategy kirana does not know. */
long long krc_jobopts_backoff_ms(const json_t *backoff, int attempt, double rnd);

#endif
