/* Fake host: the host table, plugin loading and contexts, the per-thread
 * error message and the fake clock. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static _Thread_local char errbuf[512];

int krf_fail(int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
    va_end(ap);
    return err;
}

void krf_clear_error(void)
{
    errbuf[0] = '\0';
}

const char *krf_errmsg(void)
{
    return errbuf;
}

static void set_errmsg(const char *msg)
{
    snprintf(errbuf, sizeof(errbuf), "%s", msg);
}

int krf_take_fault(pthread_mutex_t *mu, int *fail_err, int *fail_times)
{
    int err = 0;
    pthread_mutex_lock(mu);
    if (*fail_times > 0) {
        (*fail_times)--;
        err = *fail_err;
    }
    pthread_mutex_unlock(mu);
    return err;
}

int64_t krf_now_ms(const kr_fakehost *fh)
{
    return atomic_load(&fh->now_ms);
}

int64_t kr_fakehost_now_ms(const kr_fakehost *fh)
{
    return krf_now_ms(fh);
}

void kr_fakehost_advance(kr_fakehost *fh, int64_t ms)
{
    atomic_fetch_add(&fh->now_ms, ms);
}

/* --- plugin context --- */

const char *krf_ctx_name(const kr_plugin_ctx *ctx)
{
    return ctx->desc->name;
}

static const json_t *ctx_config(const kr_plugin_ctx *ctx)
{
    return ctx->config;
}

static const char *ctx_mount(const kr_plugin_ctx *ctx)
{
    return ctx->mount;
}

static void *ctx_state(const kr_plugin_ctx *ctx)
{
    return ctx->state;
}

static void ctx_set_state(kr_plugin_ctx *ctx, void *state)
{
    ctx->state = state;
}

int krf_has_role(const kr_fakehost *fh, const char *role)
{
    for (size_t i = 0; i < fh->nroles; i++)
        if (role != NULL && strcmp(fh->roles[i], role) == 0)
            return 1;
    return 0;
}

static int ctx_has_role(const kr_plugin_ctx *ctx, const char *role)
{
    return krf_has_role(ctx->fh, role);
}

static kr_db *ctx_db(const kr_plugin_ctx *ctx)
{
    return ctx->fh->db;
}

static kr_redis *ctx_redis(const kr_plugin_ctx *ctx)
{
    return ctx->fh->redis;
}

static kr_queue *ctx_queue(const kr_plugin_ctx *ctx)
{
    return ctx->fh->queue;
}

static int ready_check_add(kr_plugin_ctx *ctx, const char *name, kr_ready_fn fn, void *udata)
{
    if (name == NULL || fn == NULL)
        return krf_fail(KR_EINVAL, "a readiness check needs a name and a function");
    kr_fakehost *fh = ctx->fh;
    pthread_mutex_lock(&fh->mu);
    krf_grow(&fh->ready, &fh->capready, fh->nready, sizeof(*fh->ready));
    fh->ready[fh->nready++] = (krf_ready){ctx, krf_xstrdup(name), fn, udata};
    pthread_mutex_unlock(&fh->mu);
    return 0;
}

static int authenticator_set(kr_plugin_ctx *ctx, kr_authenticate_fn fn, void *udata)
{
    kr_fakehost *fh = ctx->fh;
    if (fn == NULL)
        return krf_fail(KR_EINVAL, "an authenticator needs a function");
    pthread_mutex_lock(&fh->mu);
    if (fh->auth_ctx != NULL) {
        const char *other = krf_ctx_name(fh->auth_ctx);
        pthread_mutex_unlock(&fh->mu);
        return krf_fail(KR_EINVAL, "plugin %s already set the authenticator", other);
    }
    fh->auth_ctx = ctx;
    fh->auth_fn = fn;
    fh->auth_udata = udata;
    pthread_mutex_unlock(&fh->mu);
    return 0;
}

static int command_add(kr_plugin_ctx *ctx, const char *name, const char *usage, kr_command_fn fn, void *udata)
{
    (void)usage;
    kr_fakehost *fh = ctx->fh;
    if (name == NULL || fn == NULL)
        return KR_EINVAL;
    pthread_mutex_lock(&fh->mu);
    krf_command *n = realloc(fh->commands, sizeof(*n) * (fh->ncommands + 1));
    if (n != NULL) {
        fh->commands = n;
        n[fh->ncommands++] = (krf_command){.name = strdup(name), .fn = fn, .udata = udata, .ctx = ctx};
    }
    pthread_mutex_unlock(&fh->mu);
    return n != NULL ? KR_OK : KR_ENOMEM;
}

int kr_fakehost_command(kr_fakehost *fh, int argc, char **argv)
{
    for (size_t i = 0; i < fh->ncommands; i++)
        if (argc > 0 && strcmp(fh->commands[i].name, argv[0]) == 0)
            return fh->commands[i].fn(fh->commands[i].ctx, argc, argv, fh->commands[i].udata);
    return -1;
}

const kr_host krf_host = {
    .size = sizeof(kr_host),
    .abi_major = KR_ABI_MAJOR,
    .abi_minor = KR_ABI_MINOR,
    .errmsg = krf_errmsg,
    .ctx_name = krf_ctx_name,
    .ctx_config = ctx_config,
    .ctx_mount = ctx_mount,
    .ctx_state = ctx_state,
    .ctx_set_state = ctx_set_state,
    .ctx_has_role = ctx_has_role,
    .ctx_db = ctx_db,
    .ctx_redis = ctx_redis,
    .ctx_queue = ctx_queue,
    .ready_check_add = ready_check_add,
    .route_add = krf_route_add,
    .authenticator_set = authenticator_set,
    .req_method = krf_req_method,
    .req_path = krf_req_path,
    .req_param = krf_req_param,
    .req_query = krf_req_query,
    .req_header = krf_req_header,
    .req_body = krf_req_body,
    .req_json = krf_req_json,
    .req_id = krf_req_id,
    .req_client_ip = krf_req_client_ip,
    .req_principal = krf_req_principal,
    .req_ctx = krf_req_ctx,
    .req_cancelled = krf_req_cancelled,
    .req_alloc = krf_req_alloc_host,
    .resp_header = krf_resp_header,
    .reply_json = krf_reply_json,
    .reply = krf_reply,
    .reply_problem = krf_reply_problem,
    .reply_error = krf_reply_error,
    .log = krf_log,
    .metrics_counter = krf_metrics_counter,
    .counter_add = krf_counter_add,
    .metrics_gauge = krf_metrics_gauge,
    .gauge_add = krf_gauge_add,
    .db_coll = krf_db_coll,
    .db_find = krf_db_find,
    .db_find_one = krf_db_find_one,
    .db_insert_one = krf_db_insert_one,
    .db_update = krf_db_update,
    .db_find_one_and_update = krf_db_find_one_and_update,
    .db_delete = krf_db_delete,
    .db_count = krf_db_count,
    .db_create_index = krf_db_create_index,
    .redis_command_argv = krf_redis_command_argv,
    .redis_pipeline = krf_redis_pipeline,
    .queue_add = krf_queue_add,
    .queue_consume = krf_queue_consume,
    .job_id = krf_job_id,
    .job_name = krf_job_name,
    .job_queue = krf_job_queue,
    .job_data = krf_job_data,
    .job_attempts_made = krf_job_attempts_made,
    .job_ctx = krf_job_ctx,
    .job_set_result = krf_job_set_result,
    .job_set_failure = krf_job_set_failure,
    .job_discard = krf_job_discard,
    .job_stopping = krf_job_stopping,
    .sse_open = krf_sse_open,
    .stream_send = krf_stream_send,
    .stream_closed = krf_stream_closed,
    .stream_close = krf_stream_close,
    .subscribe = krf_subscribe,
    .publish = krf_publish,
    .command_add = command_add,
    .set_errmsg = set_errmsg,
    .openapi_add = krf_openapi_add,
};

/* --- the host --- */

static void set_roles(kr_fakehost *fh, const char *const *roles)
{
    for (size_t i = 0; i < fh->nroles; i++)
        free(fh->roles[i]);
    free(fh->roles);
    fh->nroles = 0;
    while (roles[fh->nroles] != NULL)
        fh->nroles++;
    fh->roles = krf_xcalloc(fh->nroles, sizeof(*fh->roles));
    for (size_t i = 0; i < fh->nroles; i++)
        fh->roles[i] = krf_xstrdup(roles[i]);
}

kr_fakehost *kr_fakehost_new(void)
{
    kr_fakehost *fh = krf_xcalloc(1, sizeof(*fh));
    pthread_mutex_init(&fh->mu, NULL);
    pthread_mutex_init(&fh->smu, NULL);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    atomic_store(&fh->now_ms, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    set_roles(fh, (const char *const[]){"http", "worker", NULL});
    snprintf(fh->client_ip, sizeof(fh->client_ip), "127.0.0.1");
    fh->db = krf_db_new(fh);
    fh->redis = krf_redis_new(fh);
    fh->queue = krf_queue_new(fh);
    return fh;
}

static void free_ctx(kr_plugin_ctx *ctx)
{
    json_decref(ctx->config);
    json_decref(ctx->openapi);
    free(ctx->mount);
    free(ctx);
}

void kr_fakehost_free(kr_fakehost *fh)
{
    if (fh == NULL)
        return;
    krf_streams_end(fh);
    for (size_t i = fh->nctxs; i-- > 0;)
        if (fh->ctxs[i]->started && fh->ctxs[i]->desc->stop != NULL)
            fh->ctxs[i]->desc->stop(fh->ctxs[i]);
    for (size_t i = fh->nctxs; i-- > 0;)
        if (fh->ctxs[i]->init_done && fh->ctxs[i]->desc->fini != NULL)
            fh->ctxs[i]->desc->fini(fh->ctxs[i]);
    krf_streams_free(fh);
    for (size_t i = 0; i < fh->nctxs; i++)
        free_ctx(fh->ctxs[i]);
    free(fh->ctxs);
    krf_routes_free(fh);
    for (size_t i = 0; i < fh->nready; i++)
        free(fh->ready[i].name);
    free(fh->ready);
    for (size_t i = 0; i < fh->ncommands; i++)
        free(fh->commands[i].name);
    free(fh->commands);
    krf_metrics_free(fh);
    krf_logs_free(fh);
    krf_queue_free(fh->queue);
    krf_redis_free(fh->redis);
    krf_db_free(fh->db);
    for (size_t i = 0; i < fh->nroles; i++)
        free(fh->roles[i]);
    free(fh->roles);
    pthread_mutex_destroy(&fh->smu);
    pthread_mutex_destroy(&fh->mu);
    free(fh);
}

int kr_fakehost_set_roles(kr_fakehost *fh, const char *const *roles)
{
    if (roles == NULL)
        return krf_fail(KR_EINVAL, "roles must be a NULL-terminated list");
    pthread_mutex_lock(&fh->mu);
    set_roles(fh, roles);
    pthread_mutex_unlock(&fh->mu);
    return 0;
}

void kr_fakehost_set_client_ip(kr_fakehost *fh, const char *ip)
{
    pthread_mutex_lock(&fh->mu);
    snprintf(fh->client_ip, sizeof(fh->client_ip), "%s", ip != NULL ? ip : "");
    pthread_mutex_unlock(&fh->mu);
}

const char *kr_fakehost_error(const kr_fakehost *fh)
{
    return fh->error;
}

kr_db *kr_fakehost_db(kr_fakehost *fh)
{
    return fh->db;
}

kr_redis *kr_fakehost_redis(kr_fakehost *fh)
{
    return fh->redis;
}

kr_queue *kr_fakehost_queue(kr_fakehost *fh)
{
    return fh->queue;
}

void kr_fakehost_fail_db(kr_fakehost *fh, int err, int times)
{
    krf_db_fail(fh->db, err, times);
}

void kr_fakehost_fail_redis(kr_fakehost *fh, int err, int times)
{
    krf_redis_fail(fh->redis, err, times);
}

void kr_fakehost_fail_queue(kr_fakehost *fh, int err, int times)
{
    krf_queue_fail(fh->queue, err, times);
}

json_t *kr_fakehost_published(kr_fakehost *fh, const char *channel)
{
    return krf_redis_published(fh->redis, channel);
}

int kr_fakehost_ready(kr_fakehost *fh, char *msg, size_t msglen)
{
    for (size_t i = 0; i < fh->nready; i++) {
        char why[256] = "";
        int rc = fh->ready[i].fn(fh->ready[i].udata, why, sizeof(why));
        if (rc != 0) {
            snprintf(msg, msglen, "%s: %s", fh->ready[i].name, why);
            return rc;
        }
    }
    if (msglen > 0)
        msg[0] = '\0';
    return 0;
}

/* --- loading --- */

__attribute__((format(printf, 2, 3))) static kr_plugin_ctx *refuse(kr_fakehost *fh, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fh->error, sizeof(fh->error), fmt, ap);
    va_end(ap);
    krf_log_host(fh, NULL, KR_LOG_ERROR, "plugin refused: %s", fh->error);
    return NULL;
}

static int name_ok(const char *name)
{
    size_t n = name != NULL ? strlen(name) : 0;
    if (n == 0 || n > 32 || name[0] < 'a' || name[0] > 'z')
        return 0;
    return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static kr_plugin_ctx *find_ctx(const kr_fakehost *fh, const char *name)
{
    for (size_t i = 0; i < fh->nctxs; i++)
        if (strcmp(fh->ctxs[i]->desc->name, name) == 0)
            return fh->ctxs[i];
    return NULL;
}

static const char *check_desc(const kr_fakehost *fh, const kr_plugin *d, char *buf, size_t len)
{
    if (d == NULL)
        return "kr_plugin_entry returned NULL";
    if (d->magic != KR_PLUGIN_MAGIC)
        return "wrong magic (not a kirana plugin)";
    if (d->struct_size < offsetof(kr_plugin, fini) + sizeof(d->fini))
        return "descriptor struct_size too small";
    if (d->abi_major != KR_ABI_MAJOR || d->abi_minor > KR_ABI_MINOR) {
        snprintf(buf, len, "built for ABI %u.%u, host has %u.%u", d->abi_major, d->abi_minor, KR_ABI_MAJOR,
                 KR_ABI_MINOR);
        return buf;
    }
    if (!name_ok(d->name))
        return "bad plugin name (want [a-z][a-z0-9_-]*, at most 32 chars)";
    if (find_ctx(fh, d->name) != NULL) {
        snprintf(buf, len, "duplicate plugin name '%s'", d->name);
        return buf;
    }
    for (const char *const *dep = d->depends; dep != NULL && *dep != NULL; dep++) {
        if (find_ctx(fh, *dep) == NULL) {
            snprintf(buf, len, "missing dependency '%s'", *dep);
            return buf;
        }
    }
    return NULL;
}

/* Forgets everything a refused plugin registered. */
static void unregister(kr_fakehost *fh, kr_plugin_ctx *ctx)
{
    krf_routes_drop(fh, ctx);
    krf_queue_drop_consumers(fh->queue, ctx);
    pthread_mutex_lock(&fh->mu);
    if (fh->auth_ctx == ctx)
        fh->auth_ctx = NULL;
    for (size_t i = 0; i < fh->nready;) {
        if (fh->ready[i].ctx == ctx) {
            free(fh->ready[i].name);
            memmove(&fh->ready[i], &fh->ready[i + 1], (fh->nready - i - 1) * sizeof(*fh->ready));
            fh->nready--;
        } else {
            i++;
        }
    }
    fh->nctxs--;
    pthread_mutex_unlock(&fh->mu);
    free_ctx(ctx);
}

kr_plugin_ctx *kr_fakehost_load(kr_fakehost *fh, const kr_plugin *desc, const char *mount, const json_t *config)
{
    char buf[256], err[256] = "";
    fh->error[0] = '\0';
    const char *why = check_desc(fh, desc, buf, sizeof(buf));
    if (why != NULL)
        return refuse(fh, "%s: %s", desc != NULL && desc->name != NULL ? desc->name : "plugin", why);
    json_t *cfg = krf_config_prepare(desc->config_schema, config, err, sizeof(err));
    if (cfg == NULL)
        return refuse(fh, "%s: config: %s", desc->name, err);
    kr_plugin_ctx *ctx = krf_xcalloc(1, sizeof(*ctx));
    ctx->h.host = &krf_host;
    ctx->fh = fh;
    ctx->desc = desc;
    ctx->mount = krf_xstrdup(mount != NULL ? mount : "");
    ctx->config = cfg;
    pthread_mutex_lock(&fh->mu);
    krf_grow(&fh->ctxs, &fh->capctxs, fh->nctxs, sizeof(*fh->ctxs));
    fh->ctxs[fh->nctxs++] = ctx;
    pthread_mutex_unlock(&fh->mu);

    krf_clear_error();
    int rc = desc->init != NULL ? desc->init(ctx) : 0;
    if (rc != 0) {
        refuse(fh, "%s: init failed (%s): %s", desc->name, kr_strerror(rc), krf_errmsg());
        unregister(fh, ctx);
        return NULL;
    }
    ctx->init_done = 1;
    krf_clear_error();
    rc = desc->start != NULL ? desc->start(ctx) : 0;
    if (rc != 0) {
        refuse(fh, "%s: start failed (%s): %s", desc->name, kr_strerror(rc), krf_errmsg());
        if (desc->fini != NULL)
            desc->fini(ctx);
        unregister(fh, ctx);
        return NULL;
    }
    ctx->started = 1;
    return ctx;
}
