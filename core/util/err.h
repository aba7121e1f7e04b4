/* Core: the per-thread error message behind kr_errmsg().
 *
 * Every core function that returns a negative kr_err sets the message first
 * with krc_err_set, so whoever gets the code can say why. */
#ifndef KRC_ERR_H
#define KRC_ERR_H

#include "kirana/error.h"

/* any thread. Formats the message for the calling thread; returns err so a
 * caller can write `return krc_err_set(KR_EINVAL, "bad %s", what);`.
 * Control characters in the result are shown as '?': a message is one
 * line whatever it quotes. */
int krc_err_set(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* any thread. Replaces control characters in msg (NUL-terminated, in
 * place) with '?', so a message quoting outside text stays one line. */
void krc_err_one_line(char *msg);
/* any thread. Borrowed; valid until the next krc_err_set on this thread. */
const char *krc_err_msg(void);
/* any thread. Empties the message. */
void krc_err_clear(void);

#endif
