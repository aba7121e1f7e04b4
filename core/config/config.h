/* Core: the server's configuration file.
 *
 * Read with krc_conf_load (so ${VAR} works everywhere), checked against a
 * built-in schema (unknown keys are errors; defaults filled in), then by the
 * rules a schema cannot say: URI schemes, readable TLS files, unique plugin
 * names, plugin paths that cannot leave plugin_dir, mount prefixes. Relative
 * paths (TLS files, log.file, plugin_dir) are taken against the folder of
 * the config file, so a config means the same from any working directory.
 * The accepted shape and its defaults are the schema at the top of
 * config.c. Every error is one line "FILE:LINE:COL: path.to.key: message". */
#ifndef KRC_CONFIG_CONFIG_H
#define KRC_CONFIG_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/config/yaml.h"
#include "kirana/log.h"

typedef struct krc_listen {
    char *host;
    int port;       /* 0: any free port */
    char *tls_cert; /* NULL: no TLS (h2c and HTTP/1.1); else a readable file */
    char *tls_key;
} krc_listen;

typedef struct krc_plugin_conf {
    char *name;
    char *path;     /* absolute, or plugin_dir + "/" + a plain file name */
    char *mount;    /* "" or "/x[/y...]" without a trailing "/" */
    json_t *config; /* owned reference to the block (an empty object when absent or null), unvalidated */
    json_t *node;   /* borrowed: the entry in the doc, for positions */
} krc_plugin_conf;

typedef struct krc_cors_conf {
    char **allow_origins; /* "*" allows any */
    size_t n_allow_origins;
    char **allow_headers;
    size_t n_allow_headers;
    int max_age; /* seconds */
} krc_cors_conf;

typedef struct krc_server_conf {
    krc_listen *listen;
    size_t n_listen;
    int threads;     /* event-loop threads */
    int workers;     /* worker-pool threads */
    int queue_depth; /* requests waiting for a worker before 503 */
    size_t max_body; /* bytes */
    int max_json_depth;
    int request_timeout_ms;
    int shutdown_timeout_ms;
    int trusted_proxy_hops; /* 0: the client IP is the peer address */
    int h2_max_resets_per_10s;
    krc_cors_conf cors;
} krc_server_conf;

typedef struct krc_db_conf {
    char *uri; /* NULL: no database; else postgresql://, postgres:// or mongodb:// */
    int pool_size;
    int timeout_ms;
} krc_db_conf;

typedef struct krc_redis_conf {
    char *url; /* NULL: no Redis; else redis:// */
    int pool_size;
    int timeout_ms;
} krc_redis_conf;

typedef struct krc_queue_conf {
    char *redis;  /* NULL: no queue; else redis:// */
    char *prefix; /* key prefix, "bull" unless set */
    int lock_duration_ms;    /* a running job's lock, renewed at half of it */
    int stalled_interval_ms; /* how often lost locks are looked for */
    int max_stalled_count;   /* recoveries of one job before it fails */
    int drain_delay_ms;      /* longest idle wait on Redis */
    int timeout_ms;          /* connect and command timeout */
} krc_queue_conf;

typedef struct krc_log_conf {
    kr_level level;
    char *file; /* NULL (null or "-" in the file): stderr; else a path, made absolute when relative */
    bool access;
} krc_log_conf;

typedef struct krc_config {
    char *dir; /* absolute folder of the config file */
    krc_server_conf server;
    bool role_http;
    bool role_worker;
    krc_db_conf db;
    krc_redis_conf redis;
    krc_queue_conf queue;
    krc_log_conf log;
    char *plugin_dir; /* absolute */
    krc_plugin_conf *plugins;
    size_t n_plugins;
    krc_conf_doc *doc; /* owned: the parsed file, kept for positions in later errors */
} krc_config;

/* main. Loads, validates and resolves a config file. Caller-owned
 * (krc_config_free); NULL with one line in err. */
krc_config *krc_config_load(const char *path, char *err, size_t errlen);
/* main. NULL is fine. */
void krc_config_free(krc_config *c);
/* any thread. The built-in JSON schema of the config file (static text),
 * for `kirana --config-schema` and for checking the docs against it. */
const char *krc_config_schema(void);

#endif
