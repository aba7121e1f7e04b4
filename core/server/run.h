/* Core: one kirana process from config to exit. */
#ifndef KRC_SERVER_RUN_H
#define KRC_SERVER_RUN_H

typedef enum krc_mode {
    KRC_MODE_SERVE,        /* run until SIGTERM/SIGINT */
    KRC_MODE_CHECK_CONFIG, /* validate config, load and init plugins, exit */
    KRC_MODE_LIST_PLUGINS, /* load plugins and print their descriptors */
    KRC_MODE_COMMAND,      /* run a command a plugin registered */
    KRC_MODE_LIST_ROUTES,  /* load and init plugins, print every route */
} krc_mode;

/* main. Returns the process exit status; errors are printed to stderr as
 * one line each. argc/argv: the command and its arguments (COMMAND mode). */
int krc_run(const char *config_path, krc_mode mode, int argc, char **argv);

#endif
