#include "core/server/loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config/schema.h"
#include "core/obs/log.h"
#include "core/util/err.h"

/* The descriptor fields this host reads; a smaller struct is not one of
 * ours. */
#define MIN_DESC_SIZE (offsetof(kr_plugin, fini) + sizeof(void (*)(void)))

static int refuse(char *err, size_t errlen, const krc_plugin_conf *pc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int refuse(char *err, size_t errlen, const krc_plugin_conf *pc, const char *fmt, ...)
{
    char why[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "plugin \"%s\" (%s): %s", pc->name, pc->path, why);
    return -1;
}

static int valid_name(const char *n)
{
    size_t len = n != NULL ? strlen(n) : 0;
    if (len == 0 || len > 32 || !(n[0] >= 'a' && n[0] <= 'z'))
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '_' || n[i] == '-'))
            return 0;
    return 1;
}

static int open_one(krc_app *app, const krc_plugin_conf *pc, int index, kr_plugin_ctx **out, char *err,
                    size_t errlen)
{
    if (access(pc->path, R_OK) != 0)
        return refuse(err, errlen, pc, "cannot read the file: %s", strerror(errno));
    void *dl = dlopen(pc->path, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL)
        return refuse(err, errlen, pc, "cannot load: %s", dlerror());
    kr_plugin_entry_fn entry = (kr_plugin_entry_fn)dlsym(dl, KR_PLUGIN_ENTRY_SYMBOL);
    if (entry == NULL)
        return refuse(err, errlen, pc, "not a kirana plugin: no %s symbol", KR_PLUGIN_ENTRY_SYMBOL);
    const kr_plugin *d = entry();
    if (d == NULL)
        return refuse(err, errlen, pc, "%s() returned no descriptor", KR_PLUGIN_ENTRY_SYMBOL);
    if (d->magic != KR_PLUGIN_MAGIC)
        return refuse(err, errlen, pc, "bad descriptor magic 0x%08x (expected 0x%08x): not built with the kirana SDK",
                      d->magic, KR_PLUGIN_MAGIC);
    if (d->abi_major != KR_ABI_MAJOR)
        return refuse(err, errlen, pc, "built for SDK ABI %u.%u, this server speaks ABI %d.%d (major differs)",
                      d->abi_major, d->abi_minor, KR_ABI_MAJOR, KR_ABI_MINOR);
    if (d->abi_minor > KR_ABI_MINOR)
        return refuse(err, errlen, pc, "built for SDK ABI %u.%u, newer than this server's %d.%d: upgrade kirana",
                      d->abi_major, d->abi_minor, KR_ABI_MAJOR, KR_ABI_MINOR);
    if (d->struct_size < MIN_DESC_SIZE)
        return refuse(err, errlen, pc, "descriptor is %u bytes, smaller than ABI %d.0's %zu", d->struct_size,
                      KR_ABI_MAJOR, (size_t)MIN_DESC_SIZE);
    if (!valid_name(d->name))
        return refuse(err, errlen, pc, "invalid plugin name \"%s\" (want [a-z][a-z0-9_-]*, at most 32)",
                      d->name != NULL ? d->name : "(null)");
    for (size_t i = 0; i < app->nplugins; i++) {
        if (strcmp(app->plugins[i]->desc->name, d->name) == 0)
            return refuse(err, errlen, pc, "duplicate plugin name \"%s\": entry \"%s\" (%s) already loaded it",
                          d->name, app->plugins[i]->entry, app->plugins[i]->path);
    }
    kr_plugin_ctx *c = calloc(1, sizeof(*c));
    c->h.host = &krc_host_table;
    c->app = app;
    c->desc = d;
    c->dl = dl;
    c->entry = strdup(pc->name);
    c->path = strdup(pc->path);
    c->mount = strdup(pc->mount != NULL ? pc->mount : "");
    c->index = index;
    *out = c;
    return 0;
}

static int validate_config(krc_app *app, kr_plugin_ctx *c, const krc_plugin_conf *pc, char *err, size_t errlen)
{
    char e[768];
    const char *text = c->desc->config_schema != NULL ? c->desc->config_schema
                                                      : "{\"type\":\"object\",\"additionalProperties\":false}";
    json_t *schema = krc_schema_parse(text, e, sizeof(e));
    if (schema == NULL)
        return refuse(err, errlen, pc, "its config_schema is invalid: %s", e);
    /* Validate the block in the parsed document itself: its nodes carry the
     * file positions the error message names. Defaults are filled into it. */
    c->config = pc->config != NULL ? json_incref(pc->config) : json_object();
    char where[64];
    snprintf(where, sizeof(where), "plugins[%d].config", c->index);
    int rc = krc_schema_validate(schema, c->config, app->cfg->doc, where, err, errlen);
    json_decref(schema);
    return rc;
}

/* Dependencies first, otherwise config order; cycles are refused. */
static int order(krc_app *app, char *err, size_t errlen)
{
    size_t n = app->nplugins;
    kr_plugin_ctx **out = calloc(n ? n : 1, sizeof(*out));
    char *placed = calloc(n ? n : 1, 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const kr_plugin *d = app->plugins[i]->desc;
        for (size_t j = 0; d->depends != NULL && d->depends[j] != NULL; j++) {
            int found = 0;
            for (size_t m = 0; m < n; m++)
                found |= strcmp(app->plugins[m]->desc->name, d->depends[j]) == 0;
            if (!found) {
                snprintf(err, errlen, "plugin \"%s\" (%s): depends on \"%s\", which is not loaded", d->name,
                         app->plugins[i]->path, d->depends[j]);
                goto fail;
            }
        }
    }
    while (k < n) {
        int progress = 0;
        for (size_t i = 0; i < n; i++) {
            if (placed[i])
                continue;
            const kr_plugin *d = app->plugins[i]->desc;
            int ready = 1;
            for (size_t j = 0; ready && d->depends != NULL && d->depends[j] != NULL; j++)
                for (size_t m = 0; m < n; m++)
                    if (!placed[m] && strcmp(app->plugins[m]->desc->name, d->depends[j]) == 0)
                        ready = 0;
            if (ready) {
                placed[i] = 1;
                out[k++] = app->plugins[i];
                progress = 1;
            }
        }
        if (!progress) {
            for (size_t i = 0; i < n; i++)
                if (!placed[i]) {
                    snprintf(err, errlen, "plugin \"%s\" (%s): dependency cycle through its depends list",
                             app->plugins[i]->desc->name, app->plugins[i]->path);
                    break;
                }
            goto fail;
        }
    }
    memcpy(app->plugins, out, sizeof(*out) * n);
    free(out);
    free(placed);
    return 0;
fail:
    free(out);
    free(placed);
    return -1;
}

int krc_loader_load(krc_app *app, char *err, size_t errlen)
{
    krc_config *cfg = app->cfg;
    app->plugins = calloc(cfg->n_plugins ? cfg->n_plugins : 1, sizeof(kr_plugin_ctx *));
    for (size_t i = 0; i < cfg->n_plugins; i++) {
        kr_plugin_ctx *c = NULL;
        if (open_one(app, &cfg->plugins[i], (int)i, &c, err, errlen) < 0)
            return -1;
        app->plugins[app->nplugins++] = c;
        if (validate_config(app, c, &cfg->plugins[i], err, errlen) < 0)
            return -1;
    }
    return order(app, err, errlen);
}

int krc_loader_init(krc_app *app, char *err, size_t errlen)
{
    for (size_t i = 0; i < app->nplugins; i++) {
        kr_plugin_ctx *c = app->plugins[i];
        krc_err_clear();
        int rc = c->desc->init != NULL ? c->desc->init(c) : 0;
        if (rc != 0) {
            snprintf(err, errlen, "plugin \"%s\" (%s): init failed: %s", c->desc->name, c->path,
                     krc_err_msg()[0] ? krc_err_msg() : kr_strerror(rc));
            return -1;
        }
        c->inited = true;
        krc_log(KR_LOG_INFO, c->desc->name, NULL, "plugin %s %s initialised (mount \"%s\")", c->desc->name,
                c->desc->version != NULL ? c->desc->version : "?", c->mount);
    }
    return 0;
}

int krc_loader_start(krc_app *app, char *err, size_t errlen)
{
    for (size_t i = 0; i < app->nplugins; i++) {
        kr_plugin_ctx *c = app->plugins[i];
        krc_err_clear();
        int rc = c->desc->start != NULL ? c->desc->start(c) : 0;
        if (rc != 0) {
            snprintf(err, errlen, "plugin \"%s\" (%s): start failed: %s", c->desc->name, c->path,
                     krc_err_msg()[0] ? krc_err_msg() : kr_strerror(rc));
            return -1;
        }
        c->started = true;
    }
    return 0;
}

void krc_loader_shutdown(krc_app *app)
{
    for (size_t i = app->nplugins; i-- > 0;) {
        kr_plugin_ctx *c = app->plugins[i];
        if (c->started && c->desc->stop != NULL)
            c->desc->stop(c);
        c->started = false;
    }
    for (size_t i = app->nplugins; i-- > 0;) {
        kr_plugin_ctx *c = app->plugins[i];
        if (c->inited && c->desc->fini != NULL)
            c->desc->fini(c);
        c->inited = false;
    }
}

void krc_loader_free(krc_app *app)
{
    for (size_t i = 0; i < app->nplugins; i++) {
        kr_plugin_ctx *c = app->plugins[i];
        json_decref(c->config);
        json_decref(c->openapi);
        free(c->entry);
        free(c->path);
        free(c->mount);
        free(c);
    }
    free(app->plugins);
    app->plugins = NULL;
    app->nplugins = 0;
}
