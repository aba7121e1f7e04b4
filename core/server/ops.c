#include "core/server/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db/db.h"
#include "core/queue/queue.h"
#include "core/redis/redis.h"
#include "core/server/problem.h"
#include "core/server/request.h"
#include "core/server/server.h"
#include "core/util/err.h"

static void healthz(krc_app *app, h2o_req_t *req)
{
    (void)app;
    static const char body[] = "{\"status\":\"ok\"}";
    krc_send(req, 200, "application/json", body, sizeof(body) - 1, NULL);
}

static void add_check(json_t *checks, const char *name, int rc, const char *msg, int *ok)
{
    if (rc == 0) {
        json_object_set_new(checks, name, json_pack("{s:s}", "status", "ok"));
    } else {
        *ok = 0;
        json_object_set_new(checks, name, json_pack("{s:s, s:s}", "status", "fail", "detail", msg));
    }
}

static int readyz(kr_req *r, void *udata)
{
    krc_app *app = udata;
    json_t *checks = json_object();
    int ok = 1;
    char msg[256];
    if (atomic_load(&app->stopping))
        add_check(checks, "server", -1, "shutting down", &ok);
    if (app->db != NULL) {
        msg[0] = '\0';
        add_check(checks, "db", krc_db_ready(app->db, msg, sizeof(msg)), msg, &ok);
    }
    if (app->redis != NULL) {
        msg[0] = '\0';
        add_check(checks, "redis", krc_redis_ready(app->redis, msg, sizeof(msg)), msg, &ok);
    }
    if (app->queue != NULL) {
        msg[0] = '\0';
        add_check(checks, "queue", krc_queue_ready(app->queue, msg, sizeof(msg)), msg, &ok);
    }
    for (size_t i = 0; i < app->nchecks; i++) {
        msg[0] = '\0';
        int rc = app->checks[i].fn(app->checks[i].udata, msg, sizeof(msg));
        add_check(checks, app->checks[i].name, rc, msg[0] ? msg : kr_strerror(rc), &ok);
    }
    if (ok)
        return kr_reply_json(r, 200, json_pack("{s:s, s:o}", "status", "ready", "checks", checks));
    kr_resp_header(r, "retry-after", "1");
    return kr_reply_problem(r, 503, "not_ready", "a dependency is not ready", json_pack("{s:o}", "checks", checks));
}

static int metrics(kr_req *r, void *udata)
{
    krc_app *app = udata;
    krc_gauge_set(app->g_pool_depth, (int64_t)krc_pool_depth(app->pool));
    krc_gauge_set(app->g_pool_busy, (int64_t)krc_pool_busy(app->pool));
    /* this request is one of them */
    krc_gauge_set(app->g_inflight, atomic_load(&app->live_requests) - 1);
    size_t len = 0;
    char *text = krc_metrics_render(&len);
    if (text == NULL)
        return krc_err_set(KR_ENOMEM, "cannot render metrics");
    int rc = kr_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
    return rc;
}

int krc_ops_register(krc_app *app)
{
    app->g_pool_depth = krc_metrics_gauge("kirana_pool_queue_depth", "Requests waiting for a worker", NULL);
    app->g_pool_busy = krc_metrics_gauge("kirana_pool_busy_workers", "Workers running a handler", NULL);
    app->g_inflight = krc_metrics_gauge("kirana_http_requests_in_flight", "Requests being handled", NULL);
    app->c_rejected_busy =
        krc_metrics_counter("kirana_http_rejected_total", "Requests refused with 503 because the pool was full", NULL);
    app->c_cancelled =
        krc_metrics_counter("kirana_http_cancelled_total", "Requests whose client left before the answer", NULL);
    krc_route_entry hz = {.kind = KRC_ROUTE_CORE_LOOP, .loop_fn = healthz, .method = "GET", .pattern = "/healthz"};
    krc_route_entry rz = {
        .kind = KRC_ROUTE_CORE_POOL, .handler = readyz, .udata = app, .method = "GET", .pattern = "/readyz"};
    krc_route_entry mt = {
        .kind = KRC_ROUTE_CORE_POOL, .handler = metrics, .udata = app, .method = "GET", .pattern = "/metrics"};
    int rc;
    if ((rc = krc_app_add_route(app, &hz, "core")) < 0 || (rc = krc_app_add_route(app, &rz, "core")) < 0 ||
        (rc = krc_app_add_route(app, &mt, "core")) < 0)
        return rc;
    return KR_OK;
}
