/* kirana: the command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config/config.h"
#include "core/server/run.h"
#include "kirana/plugin.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: kirana [--config FILE]          serve (default config: $KIRANA_CONFIG or config/kirana.yaml)\n"
               "       kirana --check-config FILE      validate the config, load and init the plugins, exit\n"
               "       kirana --list-plugins [--config FILE]\n"
               "       kirana --list-routes [--config FILE]   load and init the plugins, print every route\n"
               "       kirana [--config FILE] COMMAND ARGS...   a command a loaded plugin provides\n"
               "                                              (e.g. auth: admin grant|revoke PHONE)\n"
               "       kirana --config-schema          print the config file's JSON schema\n"
               "       kirana --version\n");
}

int main(int argc, char **argv)
{
    const char *config = getenv("KIRANA_CONFIG");
    krc_mode mode = KRC_MODE_SERVE;
    if (config == NULL || config[0] == '\0')
        config = "config/kirana.yaml";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--version") == 0) {
            printf("kirana %s (plugin ABI %d.%d)\n", KRC_VERSION, KR_ABI_MAJOR, KR_ABI_MINOR);
            return 0;
        } else if (strcmp(a, "--config-schema") == 0) {
            printf("%s\n", krc_config_schema());
            return 0;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if ((strcmp(a, "--config") == 0 || strcmp(a, "-c") == 0) && i + 1 < argc) {
            config = argv[++i];
        } else if (strcmp(a, "--check-config") == 0 && i + 1 < argc) {
            config = argv[++i];
            mode = KRC_MODE_CHECK_CONFIG;
        } else if (strcmp(a, "--list-plugins") == 0) {
            mode = KRC_MODE_LIST_PLUGINS;
        } else if (strcmp(a, "--list-routes") == 0) {
            mode = KRC_MODE_LIST_ROUTES;
        } else if (a[0] != '-') {
            return krc_run(config, KRC_MODE_COMMAND, argc - i, argv + i);
        } else {
            fprintf(stderr, "kirana: unknown argument \"%s\"\n", a);
            usage(stderr);
            return 2;
        }
    }
    return krc_run(config, mode, 0, NULL);
}
