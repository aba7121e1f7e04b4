/* kirana SDK: everything a plugin includes. */
#ifndef KIRANA_H
#define KIRANA_H

#include "kirana/error.h"
#include "kirana/plugin.h"
#include "kirana/http.h"
#include "kirana/log.h"
#include "kirana/db.h"
#include "kirana/redis.h"
#include "kirana/queue.h"

#endif
