/* Fake host: answers (kr_reply_*), the problem+json shape and the one
 * mapping from kr_err to HTTP status and problem code, as the core has
 * them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define PROBLEM_BASE "https://kirana.dev/problems/"

/* RFC 9110 reason phrases, used as problem titles. */
static const char *title(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 428:
        return "Precondition Required";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    }
    return "Unknown";
}

int krf_err_status(int err, const char **code)
{
    static const struct {
        int err, status;
        const char *code;
    } map[] = {
        {KR_EINVAL, 400, "invalid_request"},   {KR_ENOTFOUND, 404, "not_found"},
        {KR_EDUPLICATE, 409, "duplicate"},     {KR_ECONFLICT, 409, "conflict"},
        {KR_EUNAVAILABLE, 503, "unavailable"}, {KR_ENOMEM, 500, "internal"},
        {KR_EINTERNAL, 500, "internal"},       {KR_ETOOBIG, 413, "too_large"},
        {KR_EAUTH, 401, "unauthorized"},       {KR_EFORBIDDEN, 403, "forbidden"},
        {KR_ELIMIT, 429, "rate_limited"},      {KR_EUNPROCESSABLE, 422, "unprocessable"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (map[i].err == err) {
            *code = map[i].code;
            return map[i].status;
        }
    }
    *code = "internal";
    return 500;
}

/* Records the answer; body is malloc()ed and taken over. */
static int answer(kr_req *req, int status, const char *content_type, char *body, size_t len)
{
    if (req->replied) {
        free(body);
        krf_log_host(req->fh, req, KR_LOG_ERROR, "a second answer (%d) to one request was dropped", status);
        return krf_fail(KR_EINVAL, "the request was already answered");
    }
    if (status < 100 || status > 599) {
        free(body);
        return krf_fail(KR_EINVAL, "bad HTTP status %d", status);
    }
    req->replied = 1;
    req->status = status;
    req->content_type = content_type != NULL ? krf_xstrdup(content_type) : NULL;
    req->resp_body = body;
    req->resp_len = len;
    return 0;
}

int krf_resp_header(kr_req *req, const char *name, const char *value)
{
    if (req->replied)
        return krf_fail(KR_EINVAL, "headers must be added before the answer");
    if (name == NULL || value == NULL || name[0] == '\0' || strpbrk(name, ": \r\n") != NULL ||
        strpbrk(value, "\r\n") != NULL)
        return krf_fail(KR_EINVAL, "bad response header");
    req->resp_headers = krf_xrealloc(req->resp_headers, (req->nresp_headers + 1) * sizeof(*req->resp_headers));
    req->resp_headers[req->nresp_headers++] = (kr_fake_header){krf_xstrdup(name), krf_xstrdup(value)};
    return 0;
}

int krf_reply_json(kr_req *req, int status, json_t *body)
{
    if (body == NULL)
        return krf_reply_error(req, KR_EINTERNAL, NULL);
    char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(body);
    if (text == NULL)
        return krf_reply_error(req, KR_EINTERNAL, NULL);
    return answer(req, status, "application/json", text, strlen(text));
}

int krf_reply(kr_req *req, int status, const char *content_type, const void *body, size_t len)
{
    char *copy = krf_xmalloc(len + 1);
    if (len > 0)
        memcpy(copy, body, len);
    copy[len] = '\0';
    return answer(req, status, content_type, copy, len);
}

int krf_reply_problem(kr_req *req, int status, const char *code, const char *detail, json_t *extra)
{
    const char *mapped;
    if (code == NULL) {
        /* The code of the error that maps to this status, if any. */
        code = "error";
        for (int e = KR_EINVAL; e >= KR_EUNPROCESSABLE; e--)
            if (krf_err_status(e, &mapped) == status) {
                code = mapped;
                break;
            }
    }
    char type[256];
    snprintf(type, sizeof(type), PROBLEM_BASE "%s", code);
    json_t *body = json_pack("{ss ss si ss ss}", "type", type, "title", title(status), "status", status, "detail",
                             detail != NULL ? detail : title(status), "code", code);
    if (json_is_object(extra))
        json_object_update_missing(body, extra);
    json_decref(extra);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return answer(req, status, "application/problem+json", text, strlen(text));
}

int krf_reply_error(kr_req *req, int err, const char *detail)
{
    const char *code;
    int status = krf_err_status(err, &code);
    if (detail == NULL && status >= 500) {
        /* Internals stay in the log, not in the answer. */
        krf_log_host(req->fh, req, KR_LOG_ERROR, "%s: %s", kr_strerror(err), krf_errmsg());
        detail = status == 503 ? "a service this request needs is unavailable; try again later"
                               : "an internal error occurred";
    }
    if (detail == NULL)
        detail = krf_errmsg()[0] != '\0' ? krf_errmsg() : title(status);
    char copy[512];
    snprintf(copy, sizeof(copy), "%s", detail); /* krf_errmsg may change while answering */
    return krf_reply_problem(req, status, code, copy, NULL);
}
