#include "core/redis/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

int krc_redis_url_parse(const char *url, krc_redis_url *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->port = 6379;
    const char *p;
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(err, errlen, "redis url must start with redis:// (got \"%s\")", url);
        return -1;
    }
    p = url + 8;
    const char *at = strchr(p, '@');
    const char *slash = strchr(p, '/');
    if (at != NULL && (slash == NULL || at < slash)) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon != NULL ? colon + 1 : p;
        size_t n = (size_t)(at - pw);
        if (n >= sizeof(out->password)) {
            snprintf(err, errlen, "redis url password is too long");
            return -1;
        }
        memcpy(out->password, pw, n);
        p = at + 1;
    }
    const char *end = p + strcspn(p, "/");
    const char *colon = memchr(p, ':', (size_t)(end - p));
    const char *hend = colon != NULL ? colon : end;
    size_t hn = (size_t)(hend - p);
    if (hn == 0 || hn >= sizeof(out->host)) {
        snprintf(err, errlen, "redis url has no valid host (\"%s\")", url);
        return -1;
    }
    memcpy(out->host, p, hn);
    if (colon != NULL) {
        char *e;
        long port = strtol(colon + 1, &e, 10);
        if (e != end || port < 1 || port > 65535) {
            snprintf(err, errlen, "redis url has an invalid port (\"%s\")", url);
            return -1;
        }
        out->port = (int)port;
    }
    if (*end == '/' && end[1] != '\0') {
        char *e;
        long db = strtol(end + 1, &e, 10);
        if (*e != '\0' || db < 0 || db > 1000000) {
            snprintf(err, errlen, "redis url has an invalid database number (\"%s\")", url);
            return -1;
        }
        out->db = (int)db;
    }
    return 0;
}

static int check_ok(redisContext *c, redisReply *r, const char *what, char *err, size_t errlen)
{
    if (r == NULL) {
        snprintf(err, errlen, "redis %s: %s", what, c->errstr[0] ? c->errstr : "no reply");
        return -1;
    }
    int bad = r->type == REDIS_REPLY_ERROR;
    if (bad)
        snprintf(err, errlen, "redis %s: %s", what, r->str);
    freeReplyObject(r);
    return bad ? -1 : 0;
}

redisContext *krc_redis_connect(const krc_redis_url *url, int timeout_ms, char *err, size_t errlen)
{
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(url->host, url->port, tv);
    if (c == NULL) {
        snprintf(err, errlen, "redis connect %s:%d: out of memory", url->host, url->port);
        return NULL;
    }
    if (c->err) {
        snprintf(err, errlen, "redis connect %s:%d: %s", url->host, url->port, c->errstr);
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    if (url->password[0] != '\0' &&
        check_ok(c, redisCommand(c, "AUTH %s", url->password), "AUTH", err, errlen) < 0)
        goto fail;
    if (url->db != 0 && check_ok(c, redisCommand(c, "SELECT %d", url->db), "SELECT", err, errlen) < 0)
        goto fail;
    return c;
fail:
    redisFree(c);
    return NULL;
}
