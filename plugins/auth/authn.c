/* The request authenticator: the one place bearer tokens are read. Every
 * plugin's KR_AUTH_USER and KR_AUTH_ADMIN route gets its principal from
 * here, and plugins never parse tokens themselves.
 *
 * The SDK has no call for a plugin to put the refusal's reason into the
 * 401 body, so the reason goes to the debug log; clients only need to know
 * that the token is not good (and then refresh or log in again). */
#include <string.h>
#include <strings.h>

#include "auth.h"

int auth_authenticate(kr_req *req, kr_principal *out, void *udata)
{
    const auth_state *st = udata;
    const char *h = kr_req_header(req, "authorization");
    /* RFC 7235: the scheme name is case-insensitive. */
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
        kr_req_log(req, KR_LOG_DEBUG, "no bearer token");
        return KR_EAUTH;
    }
    const char *token = h + 7;
    while (*token == ' ')
        token++;
    auth_claims c;
    const char *why = NULL;
    if (auth_jwt_verify(&st->jwt, token, (long)(auth_now_ms(st) / 1000), &c, &why) != KR_OK) {
        kr_req_log(req, KR_LOG_DEBUG, "bearer token refused: %s", why);
        return KR_EAUTH;
    }
    int rc = auth_denied(st, c.jti, c.sid);
    if (rc != KR_OK) {
        if (rc == KR_EAUTH)
            kr_req_log(req, KR_LOG_DEBUG, "bearer token refused: revoked");
        return rc;
    }
    out->user_id = kr_req_strdup(req, c.sub);
    out->role = kr_req_strdup(req, c.role);
    out->session_id = kr_req_strdup(req, c.sid);
    out->token_id = kr_req_strdup(req, c.jti);
    if (out->user_id == NULL || out->role == NULL || out->session_id == NULL || out->token_id == NULL)
        return KR_ENOMEM;
    return KR_OK;
}
