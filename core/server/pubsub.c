#include "core/server/pubsub.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/redis/redis.h"
#include "core/redis/sub.h"
#include "core/util/err.h"

/* Plugins subscribe during init while the subscriber thread may already
 * deliver messages of earlier channels. */
static pthread_mutex_t subs_mu = PTHREAD_MUTEX_INITIALIZER;

static void on_message(void *udata, const char *channel, const char *msg, size_t len)
{
    krc_app *app = udata;
    pthread_mutex_lock(&subs_mu);
    for (size_t i = 0; i < app->nsubs; i++)
        if (strcmp(app->subs[i].channel, channel) == 0)
            app->subs[i].fn(app->subs[i].udata, channel, msg, len);
    pthread_mutex_unlock(&subs_mu);
}

static int h_subscribe(kr_plugin_ctx *c, const char *channel, kr_message_fn fn, void *udata)
{
    krc_app *app = c->app;
    if (channel == NULL || channel[0] == '\0' || fn == NULL)
        return krc_err_set(KR_EINVAL, "kr_subscribe needs a channel and a function");
    if (app->cfg->redis.url == NULL)
        return krc_err_set(KR_EINVAL, "kr_subscribe needs `redis` in the config");
    if (app->sub == NULL &&
        (app->sub = krc_redis_subscribe_start(app->cfg->redis.url, app->cfg->redis.timeout_ms, on_message, app)) ==
            NULL)
        return KR_EUNAVAILABLE;
    pthread_mutex_lock(&subs_mu);
    krc_subscription *n = realloc(app->subs, sizeof(*n) * (app->nsubs + 1));
    if (n != NULL) {
        app->subs = n;
        n[app->nsubs] = (krc_subscription){.channel = strdup(channel), .fn = fn, .udata = udata};
        app->nsubs++;
    }
    pthread_mutex_unlock(&subs_mu);
    if (n == NULL)
        return krc_err_set(KR_ENOMEM, "out of memory");
    return krc_redis_sub_add(app->sub, channel);
}

static int h_publish(kr_plugin_ctx *c, const char *channel, const char *msg, size_t len, long long *receivers)
{
    if (c->app->redis == NULL)
        return krc_err_set(KR_EINVAL, "kr_publish needs `redis` in the config");
    const char *argv[] = {"PUBLISH", channel, msg};
    size_t lens[] = {7, strlen(channel), len};
    kr_redis_reply *r = NULL;
    int rc = KR_HOST_OF(c)->redis_command_argv((kr_redis *)c->app->redis, 3, argv, lens, &r);
    if (rc == KR_OK && r->type != KR_REDIS_INTEGER)
        rc = krc_err_set(KR_EINTERNAL, "PUBLISH: %s", r->type == KR_REDIS_ERROR ? r->str : "unexpected reply");
    if (rc == KR_OK && receivers != NULL)
        *receivers = r->integer;
    kr_redis_reply_free(r);
    return rc;
}

void krc_pubsub_stop(krc_app *app)
{
    krc_redis_sub_stop(app->sub);
    app->sub = NULL;
    for (size_t i = 0; i < app->nsubs; i++)
        free(app->subs[i].channel);
    free(app->subs);
    app->subs = NULL;
    app->nsubs = 0;
}

void krc_pubsub_host_fill(kr_host *h)
{
    h->subscribe = h_subscribe;
    h->publish = h_publish;
}
