/* Fuzz target: the config file (core/config: YAML with positions and ${VAR},
 * the core schema, then the rules the schema cannot say).
 *
 * krc_config_load takes a path, because errors name the file and relative
 * paths are taken against its folder: the input is written to a file in a
 * private temp folder, then loaded. An accepted config must hold what
 * config.h promises; a refused one must come with one line of reason that
 * names the file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config/config.h"

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "config invariant broken: %s (line %d)\n", #cond, __LINE__);                               \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

static char dir[64], path[96];

static void remove_dir(void)
{
    unlink(path);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof(dir), "/tmp/kirana-fuzz-config-XXXXXX");
    if (mkdtemp(dir) == NULL)
        abort();
    snprintf(path, sizeof(path), "%s/kirana.yaml", dir);
    /* a ${VAR} the seeds use, so substitution gets past the unset case */
    setenv("KIRANA_FUZZ_PORT", "8080", 1);
    atexit(remove_dir);
    return 0;
}

static void check_config(const krc_config *c)
{
    CHECK(c->dir != NULL && c->dir[0] == '/');
    CHECK(c->server.n_listen >= 1);
    for (size_t i = 0; i < c->server.n_listen; i++) {
        const krc_listen *l = &c->server.listen[i];
        CHECK(l->host != NULL && l->host[0] != '\0');
        CHECK(l->port >= 0 && l->port <= 65535);
        CHECK((l->tls_cert == NULL) == (l->tls_key == NULL));
    }
    CHECK(c->server.threads >= 1 && c->server.threads <= 64);
    CHECK(c->server.workers >= 1 && c->server.workers <= 1024);
    CHECK(c->server.max_body >= 1 && c->server.max_body <= 64u << 20);
    CHECK(c->server.h2_max_resets_per_10s >= 1);
    CHECK(c->role_http || c->role_worker);
    CHECK(c->plugin_dir != NULL && c->plugin_dir[0] == '/');
    for (size_t i = 0; i < c->n_plugins; i++) {
        const krc_plugin_conf *p = &c->plugins[i];
        CHECK(p->path != NULL && p->path[0] == '/');
        CHECK(p->mount != NULL &&
              (p->mount[0] == '\0' || (p->mount[0] == '/' && p->mount[strlen(p->mount) - 1] != '/')));
        CHECK(json_is_object(p->config));
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(c->plugins[j].name, p->name) != 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        abort();
    if (size > 0 && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    char err[1024];
    err[0] = '\0';
    krc_config *c = krc_config_load(path, err, sizeof(err));
    if (c != NULL) {
        check_config(c);
        krc_config_free(c);
    } else {
        CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
        CHECK(strncmp(err, path, strlen(path)) == 0);
    }
    return 0;
}
