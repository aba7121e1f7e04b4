#include "core/config/config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config/schema.h"

/* The whole accepted shape. It goes through krc_schema_parse like a
 * plugin's schema, so the core lives by the same subset. */
static const char core_schema[] =
    "{"
    "\"type\": \"object\", \"additionalProperties\": false,"
    "\"properties\": {"
    " \"server\": {\"type\": \"object\", \"additionalProperties\": false, \"default\": {},"
    "  \"properties\": {"
    "   \"listen\": {\"type\": \"array\", \"minItems\": 1,"
    "    \"default\": [{\"host\": \"127.0.0.1\", \"port\": 8080}],"
    "    \"items\": {\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"port\"],"
    "     \"properties\": {"
    "      \"host\": {\"type\": \"string\", \"minLength\": 1, \"default\": \"127.0.0.1\"},"
    "      \"port\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 65535},"
    "      \"tls\": {\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"cert\", \"key\"],"
    "       \"properties\": {"
    "        \"cert\": {\"type\": \"string\", \"minLength\": 1},"
    "        \"key\": {\"type\": \"string\", \"minLength\": 1}}}}}},"
    "   \"threads\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 64, \"default\": 1},"
    "   \"workers\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 1024, \"default\": 16},"
    "   \"queue_depth\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 1000000, \"default\": 1024},"
    "   \"max_body\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 67108864, \"default\": 1048576},"
    "   \"max_json_depth\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 256, \"default\": 32},"
    "   \"request_timeout_ms\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 3600000, \"default\": 30000},"
    "   \"shutdown_timeout_ms\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 3600000, \"default\": 10000},"
    "   \"trusted_proxy_hops\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 16, \"default\": 0},"
    "   \"h2_max_resets_per_10s\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 1000000, \"default\": 200},"
    "   \"cors\": {\"type\": \"object\", \"additionalProperties\": false, \"default\": {},"
    "    \"properties\": {"
    "     \"allow_origins\": {\"type\": \"array\", \"items\": {\"type\": \"string\", \"minLength\": 1},"
    "      \"default\": []},"
    "     \"allow_headers\": {\"type\": \"array\","
    "      \"items\": {\"type\": \"string\", \"pattern\": \"^[A-Za-z0-9-]+$\"},"
    "      \"default\": [\"authorization\", \"content-type\", \"idempotency-key\"]},"
    "     \"max_age\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 86400, \"default\": 600}}}}},"
    " \"roles\": {\"type\": \"array\", \"minItems\": 1,"
    "  \"items\": {\"type\": \"string\", \"enum\": [\"http\", \"worker\"]},"
    "  \"default\": [\"http\", \"worker\"]},"
    " \"db\": {\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"uri\"],"
    "  \"properties\": {"
    "   \"uri\": {\"type\": \"string\"},"
    "   \"pool_size\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 1024, \"default\": 8},"
    "   \"timeout_ms\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 600000, \"default\": 5000}}},"
    " \"redis\": {\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"url\"],"
    "  \"properties\": {"
    "   \"url\": {\"type\": \"string\"},"
    "   \"pool_size\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 1024, \"default\": 8},"
    "   \"timeout_ms\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 600000, \"default\": 2000}}},"
    " \"queue\": {\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"redis\"],"
    "  \"properties\": {"
    "   \"redis\": {\"type\": \"string\"},"
    "   \"prefix\": {\"type\": \"string\", \"minLength\": 1, \"default\": \"bull\"},"
    "   \"lock_duration_ms\": {\"type\": \"integer\", \"minimum\": 1000, \"maximum\": 3600000, \"default\": 30000},"
    "   \"stalled_interval_ms\": {\"type\": \"integer\", \"minimum\": 100, \"maximum\": 3600000, \"default\": 30000},"
    "   \"max_stalled_count\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 1000, \"default\": 1},"
    "   \"drain_delay_ms\": {\"type\": \"integer\", \"minimum\": 100, \"maximum\": 60000, \"default\": 5000},"
    "   \"timeout_ms\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 600000, \"default\": 5000}}},"
    " \"log\": {\"type\": \"object\", \"additionalProperties\": false, \"default\": {},"
    "  \"properties\": {"
    "   \"level\": {\"type\": \"string\", \"enum\": [\"debug\", \"info\", \"warn\", \"error\"], \"default\": \"info\"},"
    "   \"file\": {\"type\": [\"string\", \"null\"], \"minLength\": 1, \"default\": null},"
    "   \"access\": {\"type\": \"boolean\", \"default\": true}}},"
    " \"plugin_dir\": {\"type\": [\"string\", \"null\"], \"minLength\": 1, \"default\": null},"
    " \"plugins\": {\"type\": \"array\", \"default\": [],"
    "  \"items\": {\"type\": \"object\", \"additionalProperties\": false, \"required\": [\"name\"],"
    "   \"properties\": {"
    "    \"name\": {\"type\": \"string\", \"pattern\": \"^[a-z][a-z0-9_-]{0,31}$\"},"
    "    \"path\": {\"type\": \"string\", \"minLength\": 1},"
    "    \"mount\": {\"type\": \"string\", \"default\": \"\"},"
    "    \"config\": {\"type\": [\"object\", \"null\"], \"default\": {}}}}}"
    "}}";

typedef struct ctx {
    krc_config *c;
    char *err;
    size_t errlen;
} ctx;

/* An error about parent[key] (object) or parent[index] (array, key NULL),
 * at its position, or its parent's when it was filled in. */
static int fail_at(ctx *x, const json_t *parent, const char *key, size_t index, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static int fail_at(ctx *x, const json_t *parent, const char *key, size_t index, const char *where, const char *fmt, ...)
{
    int line = 0, col = 0;
    if (krc_conf_member_pos(x->c->doc, parent, key, index, &line, &col) != 0)
        krc_conf_pos(x->c->doc, parent, &line, &col);
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return krc_conf_errorf(x->c->doc, line, col, where, x->err, x->errlen, "%s", msg);
}

static int nomem(ctx *x)
{
    return krc_conf_errorf(x->c->doc, 0, 0, NULL, x->err, x->errlen, "out of memory");
}

/* A copy of obj[key], NULL when absent or null. */
static int copy_str(ctx *x, const json_t *obj, const char *key, char **out)
{
    const char *s = json_string_value(json_object_get(obj, key));
    *out = NULL;
    if (s != NULL && (*out = strdup(s)) == NULL)
        return nomem(x);
    return 0;
}

static int int_of(const json_t *obj, const char *key)
{
    return (int)json_integer_value(json_object_get(obj, key));
}

static int copy_strs(ctx *x, const json_t *arr, char ***out, size_t *n)
{
    size_t count = json_array_size(arr);
    *n = 0;
    if ((*out = calloc(count + 1, sizeof(**out))) == NULL)
        return nomem(x);
    for (size_t i = 0; i < count; i++) {
        if (((*out)[i] = strdup(json_string_value(json_array_get(arr, i)))) == NULL)
            return nomem(x);
        *n = i + 1;
    }
    return 0;
}

static void free_strs(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* dir/rel, or rel itself when absolute. malloc'd; NULL when out of memory. */
static char *resolve(const char *dir, const char *rel)
{
    if (rel[0] == '/')
        return strdup(rel);
    size_t dn = strlen(dir), rn = strlen(rel);
    bool slash = dn > 0 && dir[dn - 1] == '/';
    char *p = malloc(dn + rn + 2);
    if (p != NULL)
        snprintf(p, dn + rn + 2, "%s%s%s", dir, slash ? "" : "/", rel);
    return p;
}

/* Whether the file at path, symbolic links resolved, lies outside dir; then
 * *real gets its resolved path (malloc'd). A file that cannot be resolved
 * (missing) is not outside: the loader reports it. */
static bool outside_dir(const char *dir, const char *path, char **real)
{
    *real = NULL;
    char *rd = realpath(dir, NULL), *rp = realpath(path, NULL);
    bool out = false;
    if (rd != NULL && rp != NULL) {
        size_t n = strlen(rd);
        out = strncmp(rp, rd, n) != 0 || (rd[n - 1] != '/' && rp[n] != '/');
    }
    if (out)
        *real = rp;
    else
        free(rp);
    free(rd);
    return out;
}

static int check_scheme(ctx *x, const json_t *obj, const char *key, const char *where, const char *const *schemes,
                        const char *expected)
{
    const char *v = json_string_value(json_object_get(obj, key));
    if (v == NULL)
        return 0;
    for (const char *const *s = schemes; *s != NULL; s++)
        if (strncmp(v, *s, strlen(*s)) == 0)
            return 0;
    /* Only the scheme is echoed: the rest may hold a password. */
    const char *sep = strstr(v, "://");
    if (sep == NULL)
        return fail_at(x, obj, key, 0, where, "must start with %s (it has no scheme)", expected);
    return fail_at(x, obj, key, 0, where, "must start with %s, not %.*s://", expected, (int)(sep - v), v);
}

/* tls[key] must name a readable regular file; *out gets its canonical
 * path, which also tells an operator which file a relative name meant. */
static int tls_file(ctx *x, const json_t *tls, const char *key, const char *where, char **out)
{
    const char *rel = json_string_value(json_object_get(tls, key));
    const char *note = rel[0] == '/' ? "" : " (relative to this file's folder)";
    if ((*out = resolve(x->c->dir, rel)) == NULL)
        return nomem(x);
    int fd = open(*out, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail_at(x, tls, key, 0, where, "cannot read \"%s\"%s: %s", rel, note, strerror(errno));
    struct stat st;
    int rc = fstat(fd, &st);
    close(fd);
    if (rc != 0 || !S_ISREG(st.st_mode))
        return fail_at(x, tls, key, 0, where, "\"%s\"%s is not a regular file", rel, note);
    char *canon = realpath(*out, NULL);
    if (canon == NULL)
        return fail_at(x, tls, key, 0, where, "cannot resolve \"%s\"%s: %s", rel, note, strerror(errno));
    free(*out);
    *out = canon;
    return 0;
}

static int load_listen(ctx *x, const json_t *arr)
{
    krc_server_conf *s = &x->c->server;
    size_t n = json_array_size(arr);
    if ((s->listen = calloc(n, sizeof(*s->listen))) == NULL)
        return nomem(x);
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(arr, i);
        krc_listen *l = &s->listen[i];
        s->n_listen = i + 1;
        l->port = int_of(e, "port");
        if (copy_str(x, e, "host", &l->host) != 0)
            return -1;
        const json_t *tls = json_object_get(e, "tls");
        if (tls == NULL)
            continue;
        char where[64];
        snprintf(where, sizeof(where), "server.listen[%zu].tls.cert", i);
        if (tls_file(x, tls, "cert", where, &l->tls_cert) != 0)
            return -1;
        snprintf(where, sizeof(where), "server.listen[%zu].tls.key", i);
        if (tls_file(x, tls, "key", where, &l->tls_key) != 0)
            return -1;
    }
    return 0;
}

static int load_server(ctx *x, const json_t *server)
{
    krc_server_conf *s = &x->c->server;
    const json_t *cors = json_object_get(server, "cors");
    s->threads = int_of(server, "threads");
    s->workers = int_of(server, "workers");
    s->queue_depth = int_of(server, "queue_depth");
    s->max_body = (size_t)int_of(server, "max_body");
    s->max_json_depth = int_of(server, "max_json_depth");
    s->request_timeout_ms = int_of(server, "request_timeout_ms");
    s->shutdown_timeout_ms = int_of(server, "shutdown_timeout_ms");
    s->trusted_proxy_hops = int_of(server, "trusted_proxy_hops");
    s->h2_max_resets_per_10s = int_of(server, "h2_max_resets_per_10s");
    s->cors.max_age = int_of(cors, "max_age");
    if (copy_strs(x, json_object_get(cors, "allow_origins"), &s->cors.allow_origins, &s->cors.n_allow_origins) != 0 ||
        copy_strs(x, json_object_get(cors, "allow_headers"), &s->cors.allow_headers, &s->cors.n_allow_headers) != 0)
        return -1;
    return load_listen(x, json_object_get(server, "listen"));
}

static int load_roles(ctx *x, const json_t *roles)
{
    size_t i;
    const json_t *r;
    json_array_foreach(roles, i, r)
    {
        bool *seen = strcmp(json_string_value(r), "http") == 0 ? &x->c->role_http : &x->c->role_worker;
        if (*seen) {
            char where[32];
            snprintf(where, sizeof(where), "roles[%zu]", i);
            return fail_at(x, roles, NULL, i, where, "\"%s\" is listed twice", json_string_value(r));
        }
        *seen = true;
    }
    return 0;
}

static int load_services(ctx *x, const json_t *root)
{
    static const char *const db_schemes[] = {"postgresql://", "postgres://", "mongodb://", NULL};
    static const char *const redis_schemes[] = {"redis://", NULL};
    krc_config *c = x->c;
    const json_t *db = json_object_get(root, "db");
    const json_t *redis = json_object_get(root, "redis");
    const json_t *queue = json_object_get(root, "queue");
    if (check_scheme(x, db, "uri", "db.uri", db_schemes, "postgresql://, postgres:// or mongodb://") != 0 ||
        check_scheme(x, redis, "url", "redis.url", redis_schemes, "redis://") != 0 ||
        check_scheme(x, queue, "redis", "queue.redis", redis_schemes, "redis://") != 0)
        return -1;
    c->db.pool_size = int_of(db, "pool_size");
    c->db.timeout_ms = int_of(db, "timeout_ms");
    c->redis.pool_size = int_of(redis, "pool_size");
    c->redis.timeout_ms = int_of(redis, "timeout_ms");
    c->queue.lock_duration_ms = int_of(queue, "lock_duration_ms");
    c->queue.stalled_interval_ms = int_of(queue, "stalled_interval_ms");
    c->queue.max_stalled_count = int_of(queue, "max_stalled_count");
    c->queue.drain_delay_ms = int_of(queue, "drain_delay_ms");
    c->queue.timeout_ms = int_of(queue, "timeout_ms");
    if (copy_str(x, db, "uri", &c->db.uri) != 0 || copy_str(x, redis, "url", &c->redis.url) != 0 ||
        copy_str(x, queue, "redis", &c->queue.redis) != 0 || copy_str(x, queue, "prefix", &c->queue.prefix) != 0)
        return -1;
    return 0;
}

static int load_log(ctx *x, const json_t *log)
{
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    krc_log_conf *l = &x->c->log;
    const char *level = json_string_value(json_object_get(log, "level"));
    const char *file = json_string_value(json_object_get(log, "file"));
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
        if (strcmp(level, levels[i]) == 0)
            l->level = (kr_level)i;
    l->access = json_is_true(json_object_get(log, "access"));
    /* "-" is how the log module spells stderr too. */
    if (file != NULL && strcmp(file, "-") != 0 && (l->file = resolve(x->c->dir, file)) == NULL)
        return nomem(x);
    return 0;
}

static int load_plugin(ctx *x, const json_t *arr, size_t i)
{
    krc_config *c = x->c;
    json_t *e = json_array_get(arr, i);
    krc_plugin_conf *p = &c->plugins[i];
    char where[48];
    c->n_plugins = i + 1;
    p->node = e;
    if (copy_str(x, e, "name", &p->name) != 0 || copy_str(x, e, "mount", &p->mount) != 0)
        return -1;
    for (size_t j = 0; j < i; j++) {
        if (strcmp(c->plugins[j].name, p->name) != 0)
            continue;
        int line = 0, col = 0;
        krc_conf_member_pos(c->doc, c->plugins[j].node, "name", 0, &line, &col);
        snprintf(where, sizeof(where), "plugins[%zu].name", i);
        return fail_at(x, e, "name", 0, where, "duplicate plugin name \"%s\" (first at line %d)", p->name, line);
    }
    const char *path = json_string_value(json_object_get(e, "path"));
    char file[40];
    if (path == NULL) {
        snprintf(file, sizeof(file), "%s.so", p->name);
        path = file;
    }
    /* Only an absolute path, which the operator wrote out in full, may
     * point outside plugin_dir. */
    if (path[0] != '/' && (strchr(path, '/') != NULL || strstr(path, "..") != NULL)) {
        snprintf(where, sizeof(where), "plugins[%zu].path", i);
        return fail_at(x, e, "path", 0, where,
                       "\"%s\": a relative plugin path must be a plain file name in plugin_dir (no \"/\", no "
                       "\"..\"); write an absolute path to load from elsewhere",
                       path);
    }
    if ((p->path = resolve(c->plugin_dir, path)) == NULL)
        return nomem(x);
    char *real = NULL;
    if (path[0] != '/' && outside_dir(c->plugin_dir, p->path, &real)) {
        snprintf(where, sizeof(where), "plugins[%zu].%s", i, path == file ? "name" : "path");
        int rc = fail_at(x, e, path == file ? "name" : "path", 0, where,
                         "\"%s\" in plugin_dir is a symbolic link to \"%s\", outside plugin_dir; write an absolute "
                         "path to load from elsewhere",
                         path, real);
        free(real);
        return rc;
    }
    size_t mn = strlen(p->mount);
    if (mn > 0 && (p->mount[0] != '/' || p->mount[mn - 1] == '/')) {
        snprintf(where, sizeof(where), "plugins[%zu].mount", i);
        return fail_at(x, e, "mount", 0, where,
                       "\"%s\": a mount prefix is \"\" or starts with \"/\" and does not end with \"/\"", p->mount);
    }
    int line, col;
    /* `config:` with every line commented out is an empty block, as is no
     * `config:` at all; it takes the place of the null. */
    if (json_is_null(json_object_get(e, "config")) &&
        (json_object_set_new(e, "config", json_object()) != 0 ||
         (krc_conf_member_pos(c->doc, e, "config", 0, &line, &col) == 0 &&
          krc_conf_set_pos(c->doc, json_object_get(e, "config"), line, col) != 0)))
        return nomem(x);
    p->config = json_incref(json_object_get(e, "config"));
    /* A block filled in by default has no place in the file; errors about it
     * point at the plugin's entry. */
    if (krc_conf_pos(c->doc, p->config, &line, &col) != 0 && krc_conf_pos(c->doc, e, &line, &col) == 0 &&
        krc_conf_set_pos(c->doc, p->config, line, col) != 0)
        return nomem(x);
    return 0;
}

static int load_plugins(ctx *x, const json_t *root)
{
    krc_config *c = x->c;
    const char *dir = json_string_value(json_object_get(root, "plugin_dir"));
    const json_t *arr = json_object_get(root, "plugins");
    if ((c->plugin_dir = resolve(c->dir, dir != NULL ? dir : KRC_PLUGIN_DIR)) == NULL)
        return nomem(x);
    size_t n = json_array_size(arr);
    if (n == 0)
        return 0;
    if ((c->plugins = calloc(n, sizeof(*c->plugins))) == NULL)
        return nomem(x);
    for (size_t i = 0; i < n; i++)
        if (load_plugin(x, arr, i) != 0)
            return -1;
    return 0;
}

/* The absolute folder of path; malloc'd. */
static char *folder_of(const char *path)
{
    char *abs = realpath(path, NULL);
    if (abs == NULL)
        return NULL;
    char *slash = strrchr(abs, '/');
    if (slash == abs)
        slash[1] = '\0';
    else
        *slash = '\0';
    return abs;
}

const char *krc_config_schema(void) { return core_schema; }

krc_config *krc_config_load(const char *path, char *err, size_t errlen)
{
    krc_config *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    if ((c->doc = krc_conf_load(path, err, errlen)) == NULL) {
        krc_config_free(c);
        return NULL;
    }
    ctx x = {.c = c, .err = err, .errlen = errlen};
    json_t *root = krc_conf_root(c->doc);
    if ((c->dir = folder_of(path)) == NULL) {
        snprintf(err, errlen, "%s: cannot resolve its folder: %s", path, strerror(errno));
        krc_config_free(c);
        return NULL;
    }
    if (json_is_null(root)) {
        krc_conf_errorf(c->doc, 1, 1, NULL, err, errlen, "the file is empty (write {} for all defaults)");
        krc_config_free(c);
        return NULL;
    }
    json_t *schema = krc_schema_parse(core_schema, err, errlen);
    int rc = schema != NULL ? krc_schema_validate(schema, root, c->doc, NULL, err, errlen) : -1;
    json_decref(schema);
    if (rc == 0)
        rc = load_server(&x, json_object_get(root, "server"));
    if (rc == 0)
        rc = load_roles(&x, json_object_get(root, "roles"));
    if (rc == 0)
        rc = load_services(&x, root);
    if (rc == 0)
        rc = load_log(&x, json_object_get(root, "log"));
    if (rc == 0)
        rc = load_plugins(&x, root);
    if (rc != 0) {
        krc_config_free(c);
        return NULL;
    }
    return c;
}

void krc_config_free(krc_config *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->server.n_listen; i++) {
        free(c->server.listen[i].host);
        free(c->server.listen[i].tls_cert);
        free(c->server.listen[i].tls_key);
    }
    free(c->server.listen);
    free_strs(c->server.cors.allow_origins, c->server.cors.n_allow_origins);
    free_strs(c->server.cors.allow_headers, c->server.cors.n_allow_headers);
    free(c->db.uri);
    free(c->redis.url);
    free(c->queue.redis);
    free(c->queue.prefix);
    free(c->log.file);
    for (size_t i = 0; i < c->n_plugins; i++) {
        free(c->plugins[i].name);
        free(c->plugins[i].path);
        free(c->plugins[i].mount);
        json_decref(c->plugins[i].config);
    }
    free(c->plugins);
    free(c->plugin_dir);
    free(c->dir);
    krc_conf_free(c->doc);
    free(c);
}
