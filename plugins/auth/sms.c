/* Sending codes: send-otp queues a job on `otp` and answers at once; this
 * plugin's own consumer sends it through the configured provider.
 *
 * Queues are readable by whoever reads Redis (Bull Board, Node workers), so
 * the job carries the code sealed with secretbox under the server's box key
 * and is removed when done. The consumer skips codes that expired while
 * queued. With the http provider nothing it logs or records as a failure
 * reason contains the code: not the body it sent, not the body it got
 * (providers echo messages back). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "auth.h"

#define JOB_NAME "send"

int auth_sms_enqueue(const auth_state *st, const char *phone, const char *code, int64_t expires_at_ms)
{
    char plain[AUTH_PHONE_MAX + 1 + AUTH_CODE_MAX + 1];
    snprintf(plain, sizeof(plain), "%s\n%s", phone, code);
    char *sealed = auth_box_seal(st, plain);
    sodium_memzero(plain, sizeof(plain));
    if (sealed == NULL)
        return KR_ENOMEM;
    json_t *data = json_pack("{s:s, s:s, s:I}", "phone", phone, "box", sealed, "expires_at", (json_int_t)expires_at_ms);
    json_t *opts =
        json_pack("{s:I, s:{s:s, s:I}, s:b, s:b}", "attempts", (json_int_t)st->sms.attempts, "backoff", "type",
                  "exponential", "delay", (json_int_t)st->sms.backoff_ms, "removeOnComplete", 1, "removeOnFail", 1);
    int rc = data != NULL && opts != NULL ? kr_queue_add(st->queue, "otp", JOB_NAME, data, opts, NULL) : KR_ENOMEM;
    json_decref(data);
    json_decref(opts);
    free(sealed);
    return rc == KR_OK || rc == KR_ENOMEM ? rc : KR_EUNAVAILABLE;
}

/* --- providers: 0 sent, KR_EUNAVAILABLE retry later, KR_EINVAL never --- */

static int send_file(const auth_state *st, const char *phone, const char *code, kr_job *job)
{
    char at[32], line[160];
    auth_iso_time(auth_now_ms(st), at, sizeof(at));
    int n = snprintf(line, sizeof(line), "{\"phone\":\"%s\",\"code\":\"%s\",\"at\":\"%s\"}\n", phone, code, at);
    /* One write() with O_APPEND: concurrent consumers never interleave
     * within a line. */
    int fd = open(st->sms.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    int ok = fd >= 0 && write(fd, line, (size_t)n) == n;
    if (fd >= 0)
        close(fd);
    sodium_memzero(line, sizeof(line));
    if (!ok) {
        kr_job_set_failure(job, "sms file: cannot append to the file");
        return KR_EUNAVAILABLE;
    }
    return KR_OK;
}

/* The body template with {phone} and {code} replaced (malloc()ed). Both
 * values are "+" and digits, so they need no escaping in JSON or form
 * bodies. */
static char *render(const char *tmpl, const char *phone, const char *code)
{
    size_t cap = strlen(tmpl) + 1, n = 0;
    for (const char *p = tmpl; (p = strchr(p, '{')) != NULL; p++)
        cap += AUTH_PHONE_MAX + AUTH_CODE_MAX;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    for (const char *p = tmpl; *p != '\0';) {
        const char *v = NULL;
        size_t skip = 0;
        if (strncmp(p, "{phone}", 7) == 0) {
            v = phone;
            skip = 7;
        } else if (strncmp(p, "{code}", 6) == 0) {
            v = code;
            skip = 6;
        }
        if (v != NULL) {
            memcpy(out + n, v, strlen(v));
            n += strlen(v);
            p += skip;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    return out;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *udata)
{
    (void)ptr;
    (void)udata;
    return size * nmemb;
}

static int send_http(const auth_state *st, const char *phone, const char *code, kr_job *job)
{
    char *body = render(st->sms.body, phone, code);
    CURL *curl = curl_easy_init();
    /* curl_slist_append returns the list's head, or NULL leaving it intact. */
    struct curl_slist *headers = NULL;
    if (body == NULL || curl == NULL || (headers = curl_slist_append(NULL, st->sms.content_type_header)) == NULL ||
        (st->sms.auth_header != NULL && curl_slist_append(headers, st->sms.auth_header) == NULL)) {
        curl_slist_free_all(headers);
        curl_easy_cleanup(curl);
        free(body);
        return KR_ENOMEM;
    }
    curl_easy_setopt(curl, CURLOPT_URL, st->sms.url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L); /* job threads: no SIGALRM for timeouts */
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, st->sms.timeout_ms);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    CURLcode cc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    sodium_memzero(body, strlen(body));
    free(body);

    char why[160];
    if (cc != CURLE_OK) {
        snprintf(why, sizeof(why), "sms http: %s", curl_easy_strerror(cc));
        kr_job_set_failure(job, why);
        return KR_EUNAVAILABLE;
    }
    if (status >= 200 && status < 300)
        return KR_OK;
    snprintf(why, sizeof(why), "sms http: provider answered %ld", status);
    kr_job_set_failure(job, why);
    /* 5xx, 408 and 429 may pass; other answers will not change on retry. */
    if (status >= 500 || status == 408 || status == 429)
        return KR_EUNAVAILABLE;
    kr_job_discard(job);
    return KR_EINVAL;
}

int auth_sms_consume(kr_job *job, void *udata)
{
    const auth_state *st = udata;
    const json_t *data = kr_job_data(job);
    const char *phone = json_string_value(json_object_get(data, "phone"));
    const char *box = json_string_value(json_object_get(data, "box"));
    json_int_t expires = json_integer_value(json_object_get(data, "expires_at"));
    char *plain = box != NULL ? auth_box_open(st, box) : NULL;
    char *nl = plain != NULL ? strchr(plain, '\n') : NULL;
    if (phone == NULL || nl == NULL || (size_t)(nl - plain) != strlen(phone) ||
        strncmp(plain, phone, strlen(phone)) != 0) {
        /* Another key (a process with a different secret) or a forged job:
         * no retry can open it. */
        free(plain);
        kr_job_set_failure(job, "otp job cannot be opened with this server's key");
        kr_job_discard(job);
        return KR_EINVAL;
    }
    const char *code = nl + 1;
    int rc = KR_OK;
    if (auth_now_ms(st) >= expires) {
        kr_log(st->ctx, KR_LOG_INFO, "otp job %s: the code expired while queued; not sent", kr_job_id(job));
        kr_job_set_result(job, json_pack("{s:s}", "skipped", "expired"));
    } else if (st->sms.provider == AUTH_SMS_CONSOLE) {
        kr_log(st->ctx, KR_LOG_INFO, "OTP for %s is %s (console SMS provider; development only)", phone, code);
    } else if (st->sms.provider == AUTH_SMS_FILE) {
        rc = send_file(st, phone, code, job);
    } else {
        rc = send_http(st, phone, code, job);
    }
    sodium_memzero(plain, strlen(plain));
    free(plain);
    return rc;
}
