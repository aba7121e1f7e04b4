#include "core/server/app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/err.h"

static const double latency_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

int krc_app_add_route(krc_app *app, const krc_route_entry *tmpl, const char *owner)
{
    krc_route_entry *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return krc_err_set(KR_ENOMEM, "out of memory");
    *e = *tmpl;
    e->method = strdup(tmpl->method);
    e->pattern = strdup(tmpl->pattern);
    size_t ll = strlen(e->method) + strlen(e->pattern) + 2;
    e->label = malloc(ll);
    snprintf(e->label, ll, "%s %s", e->method, e->pattern);
    char err[512];
    if (krc_router_add(app->router, e->method, e->pattern, owner, e, err, sizeof(err)) != 0) {
        free(e->method);
        free(e->pattern);
        free(e->label);
        free(e);
        return krc_err_set(KR_EINVAL, "%s", err);
    }
    char labels[600];
    snprintf(labels, sizeof(labels), "route=\"%s\"", e->label);
    e->latency = krc_metrics_histogram("kirana_http_request_duration_seconds", "Time from request to answer",
                                       labels, latency_bounds, sizeof(latency_bounds) / sizeof(latency_bounds[0]));
    krc_route_entry **n = realloc(app->routes, sizeof(*n) * (app->nroutes + 1));
    n[app->nroutes++] = e;
    app->routes = n;
    return KR_OK;
}
