#include "core/redis/conn.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "core/router/urlcode.h"
#include "core/util/thread.h"

/* Percent-decodes [s, s+n) into out; -1 when it does not fit or a %XX is
 * malformed (or decodes to NUL). */
static int decode(const char *s, size_t n, char *out, size_t outlen)
{
    char tmp[1024];
    if (n >= sizeof(tmp))
        return -1;
    size_t len = krc_url_decode(tmp, s, n);
    if (len == (size_t)-1 || len >= outlen)
        return -1;
    memcpy(out, tmp, len + 1);
    return 0;
}

/* Decimal digits only in [s, e): strtol alone would accept signs and
 * spaces. */
static long digits(const char *s, const char *e, long max)
{
    if (s == e || e - s > 9)
        return -1;
    long v = 0;
    for (const char *p = s; p < e; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v <= max ? v : -1;
}

static int parse_userinfo(const char *s, size_t n, krc_redis_url *out, char *err, size_t errlen)
{
    const char *colon = memchr(s, ':', n);
    const char *pw = colon != NULL ? colon + 1 : s;
    if (colon != NULL && decode(s, (size_t)(colon - s), out->user, sizeof(out->user)) < 0) {
        snprintf(err, errlen, "redis url: the user name is malformed or too long");
        return -1;
    }
    if (decode(pw, (size_t)(s + n - pw), out->password, sizeof(out->password)) < 0) {
        snprintf(err, errlen, "redis url: the password is malformed or too long");
        return -1;
    }
    return 0;
}

int krc_redis_url_parse(const char *url, krc_redis_url *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->port = 6379;
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(err, errlen, "redis url must start with redis://");
        return -1;
    }
    const char *p = url + 8;
    const char *end = p + strcspn(p, "/");
    /* The last '@' ends the user info, so an unencoded '@' in a password
     * still works. */
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@')
            at = q;
    if (at != NULL) {
        if (parse_userinfo(p, (size_t)(at - p), out, err, errlen) < 0)
            return -1;
        p = at + 1;
    }
    const char *hstart = p, *hend;
    const char *portsep;
    if (*p == '[') {
        hstart = p + 1;
        hend = memchr(hstart, ']', (size_t)(end - hstart));
        if (hend == NULL) {
            snprintf(err, errlen, "redis url: unterminated [ in the host");
            return -1;
        }
        portsep = hend + 1 < end ? hend + 1 : NULL;
        if (portsep != NULL && *portsep != ':') {
            snprintf(err, errlen, "redis url: unexpected text after ]");
            return -1;
        }
    } else {
        portsep = memchr(p, ':', (size_t)(end - p));
        hend = portsep != NULL ? portsep : end;
    }
    size_t hn = (size_t)(hend - hstart);
    if (hn == 0 || hn >= sizeof(out->host)) {
        snprintf(err, errlen, "redis url has no valid host");
        return -1;
    }
    memcpy(out->host, hstart, hn);
    out->host[hn] = '\0';
    if (portsep != NULL) {
        long port = digits(portsep + 1, end, 65535);
        if (port < 1) {
            snprintf(err, errlen, "redis url has an invalid port \"%.*s\"", (int)(end - portsep - 1), portsep + 1);
            return -1;
        }
        out->port = (int)port;
    }
    if (*end == '/' && end[1] != '\0') {
        long db = digits(end + 1, end + strlen(end), 1000000);
        if (db < 0) {
            snprintf(err, errlen, "redis url has an invalid database number \"%s\"", end + 1);
            return -1;
        }
        out->db = (int)db;
    }
    return 0;
}

const char *krc_redis_conn_error(const redisContext *c)
{
    if (c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
        return "timed out";
    return c->errstr[0] != '\0' ? c->errstr : "no reply";
}

static int check_ok(const krc_redis_url *url, redisContext *c, redisReply *r, const char *what, char *err,
                    size_t errlen)
{
    if (r == NULL) {
        snprintf(err, errlen, "redis %s:%d: %s: %s", url->host, url->port, what, krc_redis_conn_error(c));
        return -1;
    }
    int bad = r->type == REDIS_REPLY_ERROR;
    if (bad)
        snprintf(err, errlen, "redis %s:%d: %s: %s", url->host, url->port, what, r->str);
    freeReplyObject(r);
    return bad ? -1 : 0;
}

static void ignore_sigpipe(void)
{
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, NULL);
    }
}

redisContext *krc_redis_connect(const krc_redis_url *url, int timeout_ms, char *err, size_t errlen)
{
    KRC_ASSERT_MAY_BLOCK();
    static pthread_once_t sigpipe_once = PTHREAD_ONCE_INIT;
    pthread_once(&sigpipe_once, ignore_sigpipe);

    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(url->host, url->port, tv);
    if (c == NULL) {
        snprintf(err, errlen, "redis %s:%d: connect: out of memory", url->host, url->port);
        return NULL;
    }
    if (c->err) {
        snprintf(err, errlen, "redis %s:%d: connect: %s", url->host, url->port, c->errstr);
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    if (url->user[0] != '\0' || url->password[0] != '\0') {
        const char *argv[3] = {"AUTH"};
        size_t argvlen[3] = {4};
        int argc = 1;
        if (url->user[0] != '\0') {
            argv[argc] = url->user;
            argvlen[argc++] = strlen(url->user);
        }
        argv[argc] = url->password;
        argvlen[argc++] = strlen(url->password);
        if (check_ok(url, c, redisCommandArgv(c, argc, argv, argvlen), "AUTH", err, errlen) < 0)
            goto fail;
    }
    if (url->db != 0 && check_ok(url, c, redisCommand(c, "SELECT %d", url->db), "SELECT", err, errlen) < 0)
        goto fail;
    return c;
fail:
    redisFree(c);
    return NULL;
}
