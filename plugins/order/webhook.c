/* order.so: the delivery partner's webhook (libcurl, job threads).
 *
 * The partner may see a notification twice (at-least-once delivery, or a
 * timeout after it accepted): the Idempotency-Key header (the order id)
 * lets it drop the second. */
#include <stdio.h>
#include <string.h>
#include <curl/curl.h>

#include "order.h"

static size_t discard(char *ptr, size_t size, size_t nmemb, void *udata)
{
    (void)ptr;
    (void)udata;
    return size * nmemb;
}

order_webhook_result order_webhook_post(const char *url, long long timeout_ms, const char *key, const char *body,
                                        char *why, size_t whylen)
{
    char idem[128];
    snprintf(idem, sizeof(idem), "Idempotency-Key: %s", key);
    CURL *curl = curl_easy_init();
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    /* curl_slist_append returns NULL and leaves the list intact on failure */
    if (curl == NULL || headers == NULL || curl_slist_append(headers, idem) == NULL) {
        curl_slist_free_all(headers);
        curl_easy_cleanup(curl);
        snprintf(why, whylen, "webhook: out of memory");
        return WEBHOOK_RETRY;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L); /* job threads: no SIGALRM for timeouts */
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    CURLcode cc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (cc != CURLE_OK) {
        snprintf(why, whylen, "webhook: %s", curl_easy_strerror(cc));
        return WEBHOOK_RETRY;
    }
    if (status >= 200 && status < 300)
        return WEBHOOK_OK;
    snprintf(why, whylen, "webhook answered HTTP %ld", status);
    /* a timeout or a rate limit passes; other client errors will not */
    if (status >= 400 && status < 500 && status != 408 && status != 429)
        return WEBHOOK_PERMANENT;
    return WEBHOOK_RETRY;
}
