#include "core/queue/jobopts.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/err.h"

/* JavaScript has one number type: 3 and 3.0 are the same whole number. */
static int whole(const json_t *v, long long *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 1;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (floor(d) == d && fabs(d) < 9007199254740992.0) {
            *out = (long long)d;
            return 1;
        }
    }
    return 0;
}

long long krc_jobopts_int(const json_t *opts, const char *key, long long def)
{
    long long v;
    if (opts != NULL && whole(json_object_get(opts, key), &v))
        return v;
    return def;
}

int krc_jobopts_id_valid(const char *id)
{
    if (id[0] == '\0' || strcmp(id, "0") == 0 || strncmp(id, "0:", 2) == 0)
        return 0;
    errno = 0;
    char *end;
    long long n = strtoll(id, &end, 10);
    char canon[32];
    snprintf(canon, sizeof(canon), "%lld", n);
    if (errno == 0 && *end == '\0' && strcmp(canon, id) == 0)
        return 0;
    if (strchr(id, ':') != NULL) {
        int parts = 1;
        for (const char *p = id; *p != '\0'; p++)
            parts += *p == ':';
        if (parts != 3)
            return 0;
    }
    return 1;
}

static int check_nonneg(const char *name, const json_t *v, long long max)
{
    long long n;
    if (!whole(v, &n) || n < 0 || n > max)
        return krc_err_set(KR_EINVAL, "job option %s must be a whole number from 0 to %lld", name, max);
    return 0;
}

static int check_keep(const char *name, const json_t *v)
{
    if (json_is_boolean(v))
        return 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            if (strcmp(k, "age") != 0 && strcmp(k, "count") != 0 && strcmp(k, "limit") != 0)
                return krc_err_set(KR_EINVAL, "job option %s has unknown member \"%s\"", name, k);
            if (check_nonneg(name, x, 9007199254740991LL) < 0)
                return KR_EINVAL;
        }
        return 0;
    }
    if (check_nonneg(name, v, 9007199254740991LL) < 0)
        return krc_err_set(KR_EINVAL, "job option %s must be a boolean, a count to keep or {age, count, limit}", name);
    return 0;
}

static int check_backoff(const json_t *v, json_t **norm)
{
    long long n;
    if (whole(v, &n)) {
        if (n < 0)
            return krc_err_set(KR_EINVAL, "job option backoff must not be negative");
        *norm = json_pack("{s:s, s:I}", "type", "fixed", "delay", (json_int_t)n);
        return 0;
    }
    if (!json_is_object(v))
        return krc_err_set(KR_EINVAL, "job option backoff must be a number or {type, delay}");
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        if (strcmp(k, "type") == 0) {
            const char *t = json_string_value(x);
            if (t == NULL || (strcmp(t, "fixed") != 0 && strcmp(t, "exponential") != 0))
                return krc_err_set(KR_EINVAL, "job option backoff.type must be \"fixed\" or \"exponential\"");
        } else if (strcmp(k, "delay") == 0) {
            if (check_nonneg("backoff.delay", x, 9007199254740991LL) < 0)
                return KR_EINVAL;
        } else if (strcmp(k, "jitter") == 0) {
            if (!json_is_number(x) || json_number_value(x) < 0 || json_number_value(x) > 1)
                return krc_err_set(KR_EINVAL, "job option backoff.jitter must be between 0 and 1");
        } else {
            return krc_err_set(KR_EINVAL, "job option backoff has unknown member \"%s\"", k);
        }
    }
    if (json_object_get(v, "type") == NULL || json_object_get(v, "delay") == NULL)
        return krc_err_set(KR_EINVAL, "job option backoff needs type and delay");
    *norm = json_deep_copy(v);
    return 0;
}

int krc_jobopts_normalize(const json_t *opts, json_t **out)
{
    *out = NULL;
    if (opts != NULL && !json_is_object(opts))
        return krc_err_set(KR_EINVAL, "job options must be a JSON object");
    /* Node's Job starts from {attempts: 0} and lays the caller's options over it. */
    json_t *o = json_pack("{s:i}", "attempts", 0);
    if (o == NULL)
        return krc_err_set(KR_ENOMEM, "out of memory");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)opts, k, v)
    {
        int rc = 0;
        json_t *norm = NULL;
        if (strcmp(k, "jobId") == 0) {
            const char *id = json_string_value(v);
            if (id == NULL)
                rc = krc_err_set(KR_EINVAL, "job option jobId must be a string");
            else if (!krc_jobopts_id_valid(id))
                rc = krc_err_set(KR_EINVAL, "job option jobId \"%s\" is not allowed: not \"0\", not an integer, no ':'",
                                 id);
        } else if (strcmp(k, "attempts") == 0) {
            rc = check_nonneg(k, v, 1000000);
        } else if (strcmp(k, "delay") == 0) {
            rc = check_nonneg(k, v, 9007199254740991LL);
        } else if (strcmp(k, "priority") == 0) {
            rc = check_nonneg(k, v, KRC_JOB_PRIORITY_MAX);
        } else if (strcmp(k, "backoff") == 0) {
            rc = check_backoff(v, &norm);
        } else if (strcmp(k, "removeOnComplete") == 0 || strcmp(k, "removeOnFail") == 0) {
            rc = check_keep(k, v);
        } else {
            rc = krc_err_set(KR_EINVAL, "unknown job option \"%s\"", k);
        }
        if (rc < 0) {
            json_decref(o);
            return rc;
        }
        json_object_set_new(o, k, norm != NULL ? norm : json_deep_copy(v));
    }
    *out = o;
    return 0;
}

json_t *krc_jobopts_keep(const json_t *remove)
{
    long long n;
    if (json_is_object(remove))
        return json_deep_copy(remove);
    if (whole(remove, &n))
        return json_pack("{s:I}", "count", (json_int_t)n);
    return json_pack("{s:i}", "count", json_is_true(remove) ? 0 : -1);
}

/* Math.round of a non-negative number. */
static long long js_round(double x)
{
    return (long long)floor(x + 0.5);
}

long long krc_jobopts_backoff_ms(const json_t *backoff, int attempt, double rnd)
{
    long long n;
    if (backoff == NULL || json_is_null(backoff))
        return 0;
    if (whole(backoff, &n))
        return n > 0 ? n : 0;
    const char *type = json_string_value(json_object_get(backoff, "type"));
    json_t *dv = json_object_get(backoff, "delay");
    json_t *jv = json_object_get(backoff, "jitter");
    double jitter = json_is_number(jv) ? json_number_value(jv) : 0;
    if (type == NULL)
        return -1;
    /* As in Node, a missing delay computes NaN there, which means "now". */
    if (!json_is_number(dv))
        return strcmp(type, "fixed") == 0 || strcmp(type, "exponential") == 0 ? 0 : -1;
    double delay = json_number_value(dv);
    if (strcmp(type, "fixed") == 0) {
        if (jitter > 0)
            return (long long)floor(rnd * delay * jitter + delay * (1 - jitter));
        return (long long)delay;
    }
    if (strcmp(type, "exponential") == 0) {
        long long max = js_round(pow(2, attempt - 1) * delay);
        if (jitter > 0)
            return (long long)floor(rnd * (double)max * jitter + (double)max * (1 - jitter));
        return max;
    }
    return -1;
}
