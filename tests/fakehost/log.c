/* Fake host: log lines captured in memory for the test to read. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *const level_names[] = {"debug", "info", "warn", "error"};

static const char *level_name(kr_level level)
{
    return level >= KR_LOG_DEBUG && level <= KR_LOG_ERROR ? level_names[level] : "error";
}

static void record(kr_fakehost *fh, const char *plugin, const kr_req *req, kr_level level, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    char *msg = krf_xmalloc(n > 0 ? (size_t)n + 1 : 1);
    if (n >= 0)
        vsnprintf(msg, (size_t)n + 1, fmt, ap2);
    else
        msg[0] = '\0';
    va_end(ap2);
    pthread_mutex_lock(&fh->mu);
    krf_grow(&fh->logs, &fh->caplogs, fh->nlogs, sizeof(*fh->logs));
    fh->logs[fh->nlogs++] = (krf_logline){level, plugin != NULL ? krf_xstrdup(plugin) : NULL,
                                          req != NULL ? krf_xstrdup(req->id) : NULL, msg};
    if (fh->echo_logs)
        fprintf(stderr, "[fakehost %s] %s%s%s%s%s\n", level_name(level), plugin != NULL ? plugin : "",
                plugin != NULL ? " " : "", req != NULL ? req->id : "", req != NULL ? " " : "", msg);
    pthread_mutex_unlock(&fh->mu);
}

void krf_log(const kr_plugin_ctx *ctx, const kr_req *req, kr_level level, const char *fmt, va_list ap)
{
    if (ctx == NULL && req != NULL)
        ctx = req->ctx;
    kr_fakehost *fh = ctx != NULL ? ctx->fh : req->fh;
    record(fh, ctx != NULL ? krf_ctx_name(ctx) : NULL, req, level, fmt, ap);
}

void krf_log_host(kr_fakehost *fh, const kr_req *req, kr_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(fh, NULL, req, level, fmt, ap);
    va_end(ap);
}

void krf_logs_free(kr_fakehost *fh)
{
    kr_fakehost_logs_clear(fh);
    free(fh->logs);
}

json_t *kr_fakehost_logs(kr_fakehost *fh)
{
    json_t *out = json_array();
    pthread_mutex_lock(&fh->mu);
    for (size_t i = 0; i < fh->nlogs; i++) {
        const krf_logline *l = &fh->logs[i];
        json_array_append_new(out, json_pack("{ss ss? ss? ss}", "level", level_name(l->level), "plugin", l->plugin,
                                             "request_id", l->request_id, "msg", l->msg));
    }
    pthread_mutex_unlock(&fh->mu);
    return out;
}

size_t kr_fakehost_log_count(kr_fakehost *fh, kr_level min_level, const char *substring)
{
    size_t n = 0;
    pthread_mutex_lock(&fh->mu);
    for (size_t i = 0; i < fh->nlogs; i++)
        n += fh->logs[i].level >= min_level && (substring == NULL || strstr(fh->logs[i].msg, substring) != NULL);
    pthread_mutex_unlock(&fh->mu);
    return n;
}

void kr_fakehost_logs_clear(kr_fakehost *fh)
{
    pthread_mutex_lock(&fh->mu);
    for (size_t i = 0; i < fh->nlogs; i++) {
        free(fh->logs[i].plugin);
        free(fh->logs[i].request_id);
        free(fh->logs[i].msg);
    }
    fh->nlogs = 0;
    pthread_mutex_unlock(&fh->mu);
}

void kr_fakehost_echo_logs(kr_fakehost *fh, int on)
{
    pthread_mutex_lock(&fh->mu);
    fh->echo_logs = on;
    pthread_mutex_unlock(&fh->mu);
}
