/* Core: the operations endpoints /healthz, /readyz and /metrics. */
#ifndef KRC_SERVER_OPS_H
#define KRC_SERVER_OPS_H

#include "core/server/app.h"

/* main. Registers the core routes (before plugins, so none can shadow
 * them) and the core's own metrics. 0 or a negative kr_err. */
int krc_ops_register(krc_app *app);

#endif
