/* Core, MongoDB backend: mongo-c-driver errors as kr_err codes.
 *
 *   no server selected, network errors, socket timeouts, authentication
 *   failures, server shutdown or step-down, maxTimeMS  KR_EUNAVAILABLE
 *   duplicate key (11000, 11001, 12582)               KR_EDUPLICATE, naming
 *                                                      the index
 *   document too large (10334, 17419, 17420, 16328)    KR_ETOOBIG
 *   the server refusing an update or filter for the data it met ($inc on
 *   a string, a field inside a number, _id changed, a bad regex) and
 *   documents the driver refuses to send              KR_EINVAL
 *   anything else                                     KR_EINTERNAL
 * Messages say what failed in kirana's words and never repeat the server's
 * text for KR_EINVAL and KR_EDUPLICATE, because it holds the values (phone
 * numbers, tokens) that were refused; the server's text is kept for
 * KR_EUNAVAILABLE and KR_EINTERNAL, which only reach logs. Errors must come
 * from a client whose pool uses error API version 2. */
#ifndef KRC_DB_MONGO_ERR_H
#define KRC_DB_MONGO_ERR_H

#include <mongoc/mongoc.h>

/* any thread. Sets the message for e, which `what` failed (an operation
 * and collection, "find in products"), and returns the code. */
int krc_mongo_error(const bson_error_t *e, const char *what);
/* any thread. The index a duplicate-key message names ("... index: NAME
 * dup key ...") into out, "" when it names none. */
void krc_mongo_dup_index(const char *message, char *out, size_t outlen);

#endif
