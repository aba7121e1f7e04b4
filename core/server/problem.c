#include "core/server/problem.h"

#include <stdlib.h>
#include <string.h>

#include "kirana/error.h"

int krc_err_http_status(int err)
{
    switch (err) {
    case KR_EINVAL: return 400;
    case KR_ENOTFOUND: return 404;
    case KR_EDUPLICATE: return 409;
    case KR_ECONFLICT: return 409;
    case KR_EUNAVAILABLE: return 503;
    case KR_ETOOBIG: return 413;
    case KR_EAUTH: return 401;
    case KR_EFORBIDDEN: return 403;
    case KR_ELIMIT: return 429;
    case KR_EUNPROCESSABLE: return 422;
    default: return 500;
    }
}

const char *krc_err_problem_code(int err)
{
    switch (err) {
    case KR_EINVAL: return "invalid_request";
    case KR_ENOTFOUND: return "not_found";
    case KR_EDUPLICATE: return "duplicate";
    case KR_ECONFLICT: return "conflict";
    case KR_EUNAVAILABLE: return "unavailable";
    case KR_ETOOBIG: return "too_large";
    case KR_EAUTH: return "unauthorized";
    case KR_EFORBIDDEN: return "forbidden";
    case KR_ELIMIT: return "rate_limited";
    case KR_EUNPROCESSABLE: return "unprocessable";
    default: return "internal";
    }
}

const char *krc_http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    }
    if (status >= 200 && status < 300)
        return "Success";
    if (status >= 400 && status < 500)
        return "Client Error";
    return "Error";
}

char *krc_problem_body(int status, const char *code, const char *detail, json_t *extra, size_t *len)
{
    char type[128];
    snprintf(type, sizeof(type), "%s%s", KRC_PROBLEM_TYPE_BASE, code);
    json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", type, "title", krc_http_reason(status), "status",
                          status, "detail", detail != NULL ? detail : "", "code", code);
    if (o != NULL && extra != NULL && json_is_object(extra)) {
        const char *k;
        json_t *v;
        json_object_foreach(extra, k, v)
        {
            /* the standard members are the core's; a plugin cannot forge them */
            if (strcmp(k, "type") && strcmp(k, "title") && strcmp(k, "status") && strcmp(k, "code"))
                json_object_set(o, k, v);
        }
    }
    json_decref(extra);
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (s == NULL) {
        static const char fallback[] = "{\"status\":500,\"code\":\"internal\",\"title\":\"Internal Server Error\"}";
        s = strdup(fallback);
    }
    if (s != NULL && len != NULL)
        *len = strlen(s);
    return s;
}
