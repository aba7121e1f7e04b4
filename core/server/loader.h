/* Core: loading plugins.
 *
 * Every refusal is one line naming the plugin entry, the file and the
 * reason; nothing half-loaded is ever started. */
#ifndef KRC_SERVER_LOADER_H
#define KRC_SERVER_LOADER_H

#include <stddef.h>

#include "core/server/app.h"

/* main. dlopen()s every configured plugin, checks its descriptor (magic,
 * struct size, ABI), refuses duplicates and missing dependencies, orders
 * them by dependency, and validates each config block against the
 * plugin's schema. Fills app->plugins. 0 or -1 with err. */
int krc_loader_load(krc_app *app, char *err, size_t errlen);
/* main. Calls init on each plugin in order; 0 or -1 with err. */
int krc_loader_init(krc_app *app, char *err, size_t errlen);
/* main. Calls start on each plugin in order; 0 or -1 with err. */
int krc_loader_start(krc_app *app, char *err, size_t errlen);
/* main. stop then fini in reverse order, for those that got that far. */
void krc_loader_shutdown(krc_app *app);
/* main. Frees the plugin contexts (does not dlclose: no unload). */
void krc_loader_free(krc_app *app);

#endif
