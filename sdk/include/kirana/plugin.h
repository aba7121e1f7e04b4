/* kirana SDK: the plugin descriptor and the plugin context.
 *
 * A plugin is a shared object exporting one symbol:
 *
 *     const kr_plugin *kr_plugin_entry(void);
 *
 * returning a static descriptor. The loader checks magic, struct_size and the
 * ABI version, resolves dependencies, validates the plugin's `config:` block
 * against `config_schema`, then calls init (registration only: routes,
 * consumers, readiness checks, metrics), start, and at shutdown stop and fini.
 *
 * ABI rules: the major version changes when anything existing changes; the
 * minor version grows when something is appended. A plugin built against a
 * newer minor than the host, or another major, is refused.
 */
#ifndef KIRANA_PLUGIN_H
#define KIRANA_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "kirana/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KR_PLUGIN_MAGIC 0x4b52504cu /* "KRPL" */
#define KR_ABI_MAJOR 1
#define KR_ABI_MINOR 1

typedef struct kr_plugin_ctx kr_plugin_ctx;
typedef struct kr_db kr_db;
typedef struct kr_redis kr_redis;
typedef struct kr_queue kr_queue;

typedef struct kr_plugin {
    uint32_t magic;       /* KR_PLUGIN_MAGIC */
    uint32_t struct_size; /* sizeof(kr_plugin) as the plugin was built */
    uint16_t abi_major;   /* KR_ABI_MAJOR as the plugin was built */
    uint16_t abi_minor;   /* KR_ABI_MINOR as the plugin was built */
    const char *name;     /* unique: [a-z][a-z0-9_-]*, at most 32 chars */
    const char *version;  /* free text, e.g. "1.2.0" */
    /* NULL-terminated list of plugin names that must be loaded (and are
     * started) before this one, or NULL. */
    const char *const *depends;
    /* JSON Schema (subset: type, properties, required, additionalProperties,
     * items, enum, minimum, maximum, minLength, maxLength, minItems, maxItems,
     * pattern, default) for the plugin's `config:` block, or NULL to accept
     * only an absent or empty block. Defaults are filled in before init. */
    const char *config_schema;
    /* init thread, once. Register routes, consumers, checks, metrics. */
    int (*init)(kr_plugin_ctx *ctx);
    /* init thread, once, in dependency order, after every init succeeded. */
    int (*start)(kr_plugin_ctx *ctx);
    /* main thread, once, reverse dependency order, after requests drained. */
    void (*stop)(kr_plugin_ctx *ctx);
    /* main thread, once, last. Free what init allocated. */
    void (*fini)(kr_plugin_ctx *ctx);
} kr_plugin;

/* Fills magic, struct_size and ABI version in a descriptor initialiser:
 *   static const kr_plugin d = { KR_PLUGIN_HEADER, .name = "x", ... }; */
#define KR_PLUGIN_HEADER                                                       \
    .magic = KR_PLUGIN_MAGIC, .struct_size = sizeof(kr_plugin),                \
    .abi_major = KR_ABI_MAJOR, .abi_minor = KR_ABI_MINOR

/* The one symbol a plugin exports. */
#define KR_PLUGIN_ENTRY_SYMBOL "kr_plugin_entry"
typedef const kr_plugin *(*kr_plugin_entry_fn)(void);

/* any thread. Plugin name (borrowed, lives as long as the process). */
const char *kr_ctx_name(const kr_plugin_ctx *ctx);
/* any thread. Validated config block with defaults filled (borrowed; never
 * NULL: an empty object when absent). */
const json_t *kr_ctx_config(const kr_plugin_ctx *ctx);
/* any thread. Mount prefix from YAML ("" for none; borrowed). */
const char *kr_ctx_mount(const kr_plugin_ctx *ctx);
/* any thread. Plugin state pointer (set in init; the plugin owns it). */
void *kr_ctx_state(const kr_plugin_ctx *ctx);
/* init thread. */
void kr_ctx_set_state(kr_plugin_ctx *ctx, void *state);
/* any thread. 1 if this process runs the role ("http" or "worker"). */
int kr_ctx_has_role(const kr_plugin_ctx *ctx, const char *role);
/* any thread. Data handles (borrowed; live as long as the process). NULL
 * when the deployment configures no such service. */
kr_db *kr_ctx_db(const kr_plugin_ctx *ctx);
kr_redis *kr_ctx_redis(const kr_plugin_ctx *ctx);
kr_queue *kr_ctx_queue(const kr_plugin_ctx *ctx);

/* Readiness: fn runs on a worker thread for each GET /readyz; return 0 when
 * ready, else a negative kr_err and write a short reason into msg. */
typedef int (*kr_ready_fn)(void *udata, char *msg, size_t msglen);
/* init thread. name is copied. */
int kr_ready_check_add(kr_plugin_ctx *ctx, const char *name, kr_ready_fn fn,
                       void *udata);

/* A command line verb a plugin adds: `kirana [--config FILE] NAME ARGS...`
 * runs it on the main thread after every plugin's init and start (so DB,
 * Redis and queue handles work), then the process exits with its return
 * value (0 success; print errors to stderr yourself). argv[0] is NAME. */
typedef int (*kr_command_fn)(kr_plugin_ctx *ctx, int argc, char **argv, void *udata);
/* init thread. name [a-z][a-z0-9-]*, unique across plugins; usage is one
 * line shown by `kirana --help`. Strings are copied. */
int kr_command_add(kr_plugin_ctx *ctx, const char *name, const char *usage, kr_command_fn fn, void *udata);

#ifdef __cplusplus
}
#endif
#endif
