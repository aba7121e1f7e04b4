#include "core/obs/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* Longer messages are cut (and the line says so): one runaway string must
 * not turn into a line that floods the disk or the collector. */
#define MSG_MAX 65536

static const char *const level_names[] = {"debug", "info", "warn", "error"};

static struct {
    /* Writers load the fd once per line. Reopening dup2()s the new file over
     * this same number, so the swap is atomic and no writer ever holds a
     * closed or recycled descriptor. */
    _Atomic int fd;
    _Atomic int min_level;
    _Atomic int access; /* access lines ignore min_level: they have this switch */
    _Atomic uint64_t dropped;
    /* The last write stopped mid-line (the disk filled): the file ends in a
     * fragment without its newline, which the next line must end first. */
    _Atomic bool torn;
    bool own_fd; /* main thread only */
    char *path;  /* main thread only; NULL for stderr */
} lg = {.fd = STDERR_FILENO, .min_level = KR_LOG_INFO, .access = 1};

/* --- one line, on the stack unless it grows --- */

typedef struct line {
    char *p;
    size_t len, cap;
    bool failed;
    char stack[2048];
} line;

static void line_init(line *l)
{
    l->p = l->stack;
    l->len = 0;
    l->cap = sizeof(l->stack);
    l->failed = false;
}

static void line_free(line *l)
{
    if (l->p != l->stack)
        free(l->p);
}

static bool line_reserve(line *l, size_t more)
{
    if (l->failed)
        return false;
    if (l->len + more <= l->cap)
        return true;
    size_t cap = l->cap * 2;
    while (cap < l->len + more)
        cap *= 2;
    char *p = l->p == l->stack ? malloc(cap) : realloc(l->p, cap);
    if (p == NULL) {
        l->failed = true;
        return false;
    }
    if (l->p == l->stack)
        memcpy(p, l->stack, l->len);
    l->p = p;
    l->cap = cap;
    return true;
}

static void put(line *l, const char *s, size_t n)
{
    if (!line_reserve(l, n))
        return;
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

static void put_str(line *l, const char *s)
{
    put(l, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f; /* no UTF-16 surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f; /* nothing above U+10FFFF */
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

/* A JSON string. Bytes that are not UTF-8 become U+FFFD, so every line
 * stays parseable whatever a plugin logs. */
static void put_json(line *l, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    put(l, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            size_t k = utf8_len((const unsigned char *)s + i, n - i);
            if (k == 0) {
                put_str(l, "\\ufffd");
                i++;
            } else {
                put(l, s + i, k);
                i += k;
            }
            continue;
        }
        size_t run = i;
        while (run < n && (unsigned char)s[run] >= 0x20 && (unsigned char)s[run] < 0x80 && s[run] != '"' &&
               s[run] != '\\')
            run++;
        if (run > i) {
            put(l, s + i, run - i);
            i = run;
            continue;
        }
        if (c == '"')
            put_str(l, "\\\"");
        else if (c == '\\')
            put_str(l, "\\\\");
        else if (c == '\n')
            put_str(l, "\\n");
        else if (c == '\r')
            put_str(l, "\\r");
        else if (c == '\t')
            put_str(l, "\\t");
        else {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(l, u, sizeof(u));
        }
        i++;
    }
    put(l, "\"", 1);
}

static void put_member(line *l, const char *name, const char *value)
{
    if (value == NULL)
        return;
    put(l, ",\"", 2);
    put_str(l, name);
    put(l, "\":", 2);
    put_json(l, value, strlen(value));
}

static void put_head(line *l, kr_level level)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char head[64];
    int n = snprintf(head, sizeof(head), "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\"",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level_names[level]);
    put(l, head, (size_t)n);
}

/* One write(2) per line; a line that cannot be written whole is counted
 * and forgotten rather than retried, which could block or interleave. A
 * line cut short stays in the file as a fragment; the next line written
 * starts with a newline (in the same write) so that it is whole again. */
static void emit(line *l)
{
    put(l, "}\n", 2);
    if (l->failed) {
        atomic_fetch_add_explicit(&lg.dropped, 1, memory_order_relaxed);
        return;
    }
    int fd = atomic_load_explicit(&lg.fd, memory_order_acquire);
    bool torn = atomic_exchange_explicit(&lg.torn, false, memory_order_relaxed);
    struct iovec iov[2] = {{.iov_base = "\n", .iov_len = 1}, {.iov_base = l->p, .iov_len = l->len}};
    ssize_t want = (ssize_t)l->len + (torn ? 1 : 0), w;
    do
        w = writev(fd, torn ? iov : iov + 1, torn ? 2 : 1);
    while (w < 0 && errno == EINTR);
    if (w == want)
        return;
    atomic_fetch_add_explicit(&lg.dropped, 1, memory_order_relaxed);
    /* nothing written: an earlier fragment is still open; part of this
     * line written (beyond the newline owed): a new fragment */
    if ((w <= 0 && torn) || w > (torn ? 1 : 0))
        atomic_store_explicit(&lg.torn, true, memory_order_relaxed);
}

static kr_level clamp(kr_level level)
{
    if ((int)level < KR_LOG_DEBUG)
        return KR_LOG_DEBUG;
    return (int)level > KR_LOG_ERROR ? KR_LOG_ERROR : level;
}

/* --- public --- */

int krc_log_enabled(kr_level level)
{
    return (int)level >= atomic_load_explicit(&lg.min_level, memory_order_relaxed);
}

void krc_logv(kr_level level, const char *plugin, const char *req_id, const char *fmt, va_list ap)
{
    if (!krc_log_enabled(level))
        return;
    level = clamp(level);
    char small[1024];
    char *msg = small;
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    bool truncated = false;
    if (n < 0) {
        n = 0;
        small[0] = '\0';
    } else if ((size_t)n >= sizeof(small)) {
        truncated = n > MSG_MAX;
        size_t size = (truncated ? MSG_MAX : (size_t)n) + 1;
        msg = malloc(size);
        if (msg != NULL) {
            vsnprintf(msg, size, fmt, ap2);
            n = (int)size - 1;
        } else {
            msg = small;
            n = sizeof(small) - 1;
            truncated = true;
        }
    }
    va_end(ap2);

    line l;
    line_init(&l);
    put_head(&l, level);
    put_member(&l, "plugin", plugin);
    put_member(&l, "req", req_id);
    put_str(&l, ",\"msg\":");
    put_json(&l, msg, (size_t)n);
    if (truncated)
        put_str(&l, ",\"truncated\":true");
    emit(&l);
    line_free(&l);
    if (msg != small)
        free(msg);
}

void krc_log(kr_level level, const char *plugin, const char *req_id, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    krc_logv(level, plugin, req_id, fmt, ap);
    va_end(ap);
}

void krc_log_access(const krc_access *a)
{
    if (!atomic_load_explicit(&lg.access, memory_order_relaxed))
        return;
    line l;
    line_init(&l);
    put_head(&l, KR_LOG_INFO);
    put_str(&l, ",\"type\":\"access\"");
    put_member(&l, "req", a->req_id);
    put_member(&l, "method", a->method);
    put_member(&l, "path", a->path);
    put_member(&l, "route", a->route);
    put_member(&l, "proto", a->proto);
    put_member(&l, "client_ip", a->client_ip);
    char nums[128];
    /* Kept to 3 decimals and never NaN, which JSON cannot spell. */
    double ms = a->dur_ms == a->dur_ms && a->dur_ms >= 0 && a->dur_ms < 1e12 ? a->dur_ms : 0;
    int n = snprintf(nums, sizeof(nums), ",\"status\":%d,\"bytes_out\":%llu,\"dur_ms\":%.3f", a->status,
                     (unsigned long long)a->bytes_out, ms);
    put(&l, nums, (size_t)n);
    emit(&l);
    line_free(&l);
}

void krc_log_set_access(int enabled)
{
    atomic_store_explicit(&lg.access, enabled != 0, memory_order_relaxed);
}

uint64_t krc_log_dropped(void)
{
    return atomic_load_explicit(&lg.dropped, memory_order_relaxed);
}

static int open_file(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

/* Points the log at newfd: over the file we own, or as a fresh number. */
static int install(int newfd)
{
    if (lg.own_fd) {
        int rc = dup2(newfd, atomic_load(&lg.fd)) < 0 ? -1 : 0;
        int saved = errno;
        close(newfd);
        errno = saved;
        return rc;
    }
    atomic_store_explicit(&lg.fd, newfd, memory_order_release);
    lg.own_fd = true;
    return 0;
}

int krc_log_open(const char *path, kr_level min_level, char *err, size_t errlen)
{
    if (path == NULL || strcmp(path, "-") == 0) {
        krc_log_close();
        atomic_store_explicit(&lg.min_level, clamp(min_level), memory_order_relaxed);
        return 0;
    }
    char *copy = strdup(path);
    int fd = copy != NULL ? open_file(path) : -1;
    if (fd < 0 || install(fd) != 0) {
        snprintf(err, errlen, "cannot open log file %s: %s", path, copy != NULL ? strerror(errno) : "out of memory");
        free(copy);
        return -1;
    }
    free(lg.path);
    lg.path = copy;
    atomic_store_explicit(&lg.min_level, clamp(min_level), memory_order_relaxed);
    return 0;
}

void krc_log_reopen(void)
{
    if (lg.path == NULL)
        return;
    int fd = open_file(lg.path);
    if (fd < 0 || install(fd) != 0)
        krc_log(KR_LOG_ERROR, NULL, NULL, "cannot reopen log file %s: %s; still writing to the old one", lg.path,
                strerror(errno));
}

void krc_log_close(void)
{
    if (lg.own_fd) {
        /* At exit, so no writer should still hold the old number. */
        int fd = atomic_exchange(&lg.fd, STDERR_FILENO);
        close(fd);
        lg.own_fd = false;
    }
    free(lg.path);
    lg.path = NULL;
}
