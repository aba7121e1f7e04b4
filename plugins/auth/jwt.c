/* Access tokens: HS256 JWTs through libjwt 1.10.
 *
 * libjwt's jwt_decode checks the signature only, and accepts whatever
 * algorithm the token's header names (alg "none" too when given no key), so
 * every other check lives here: the algorithm is pinned after decoding, the
 * key is never empty, and the claims are read from the decoded JSON with
 * their types checked (jwt_get_grant_int would read a string as 0). */
#include <stdlib.h>
#include <string.h>

#include <jwt.h>

#include "auth.h"

#define TOKEN_MAX 4096

int auth_jwt_issue(const auth_jwt_cfg *cfg, const char *sub, const char *role, const char *sid, long now, char **token,
                   auth_claims *claims_out)
{
    *token = NULL;
    if (cfg->key == NULL || cfg->key_len < AUTH_KEY_BYTES)
        return KR_EINVAL;
    auth_claims c = {.iat = now, .nbf = now, .exp = now + cfg->access_ttl};
    if (strlen(sub) >= sizeof(c.sub) || strlen(role) >= sizeof(c.role) || strlen(sid) >= sizeof(c.sid))
        return KR_EINVAL;
    strcpy(c.sub, sub);
    strcpy(c.role, role);
    strcpy(c.sid, sid);
    auth_random_token(AUTH_ID_BYTES, c.jti, sizeof(c.jti));

    jwt_t *jwt = NULL;
    if (jwt_new(&jwt) != 0)
        return KR_ENOMEM;
    int rc = jwt_set_alg(jwt, JWT_ALG_HS256, cfg->key, (int)cfg->key_len) | jwt_add_grant(jwt, "iss", cfg->issuer) |
             jwt_add_grant(jwt, "aud", cfg->audience) | jwt_add_grant(jwt, "sub", c.sub) |
             jwt_add_grant_int(jwt, "iat", c.iat) | jwt_add_grant_int(jwt, "nbf", c.nbf) |
             jwt_add_grant_int(jwt, "exp", c.exp) | jwt_add_grant(jwt, "jti", c.jti) |
             jwt_add_grant(jwt, "typ", "access") | jwt_add_grant(jwt, "role", c.role) |
             jwt_add_grant(jwt, "sid", c.sid);
    if (rc == 0)
        *token = jwt_encode_str(jwt);
    jwt_free(jwt);
    if (*token == NULL)
        return KR_ENOMEM;
    if (claims_out != NULL)
        *claims_out = c;
    return KR_OK;
}

static int str_claim(const json_t *claims, const char *name, char *out, size_t outlen)
{
    const char *v = json_string_value(json_object_get(claims, name));
    if (v == NULL || *v == '\0' || strlen(v) >= outlen)
        return -1;
    strcpy(out, v);
    return 0;
}

static int int_claim(const json_t *claims, const char *name, long *out)
{
    const json_t *v = json_object_get(claims, name);
    if (!json_is_integer(v))
        return -1;
    *out = (long)json_integer_value(v);
    return 0;
}

static int check_claims(const auth_jwt_cfg *cfg, const json_t *claims, long now, auth_claims *out, const char **why)
{
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    const char *aud = json_string_value(json_object_get(claims, "aud"));
    const char *typ = json_string_value(json_object_get(claims, "typ"));
    if (typ == NULL || strcmp(typ, "access") != 0) {
        *why = "the token is not an access token";
        return KR_EAUTH;
    }
    if (iss == NULL || strcmp(iss, cfg->issuer) != 0) {
        *why = "the token has another issuer";
        return KR_EAUTH;
    }
    /* We only issue a string audience; an array is someone else's token. */
    if (aud == NULL || strcmp(aud, cfg->audience) != 0) {
        *why = "the token is for another audience";
        return KR_EAUTH;
    }
    if (int_claim(claims, "exp", &out->exp) != 0 || int_claim(claims, "nbf", &out->nbf) != 0 ||
        int_claim(claims, "iat", &out->iat) != 0) {
        *why = "the token lacks exp, nbf or iat";
        return KR_EAUTH;
    }
    /* exp is the token's, any integer: keep the arithmetic on our side
     * (now and leeway are small) so a huge exp cannot overflow. */
    if (now - cfg->leeway >= out->exp) {
        *why = "the token has expired";
        return KR_EAUTH;
    }
    if (now + cfg->leeway < out->nbf || now + cfg->leeway < out->iat) {
        *why = "the token is not valid yet";
        return KR_EAUTH;
    }
    if (str_claim(claims, "sub", out->sub, sizeof(out->sub)) != 0 ||
        str_claim(claims, "jti", out->jti, sizeof(out->jti)) != 0 ||
        str_claim(claims, "sid", out->sid, sizeof(out->sid)) != 0 ||
        str_claim(claims, "role", out->role, sizeof(out->role)) != 0 ||
        (strcmp(out->role, "user") != 0 && strcmp(out->role, "admin") != 0)) {
        *why = "the token lacks sub, jti, sid or role";
        return KR_EAUTH;
    }
    return KR_OK;
}

int auth_jwt_verify(const auth_jwt_cfg *cfg, const char *token, long now, auth_claims *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    /* An empty key would make libjwt accept unsigned tokens. */
    if (cfg->key == NULL || cfg->key_len < AUTH_KEY_BYTES) {
        *why = "no key";
        return KR_EAUTH;
    }
    if (token == NULL || *token == '\0' || strlen(token) > TOKEN_MAX) {
        *why = "no token";
        return KR_EAUTH;
    }
    jwt_t *jwt = NULL;
    if (jwt_decode(&jwt, token, cfg->key, (int)cfg->key_len) != 0 || jwt == NULL) {
        *why = "the token is malformed or its signature is wrong";
        return KR_EAUTH;
    }
    int rc = KR_EAUTH;
    if (jwt_get_alg(jwt) != JWT_ALG_HS256) {
        *why = "the token's algorithm is not HS256";
    } else {
        char *text = jwt_get_grants_json(jwt, NULL);
        json_t *claims = text != NULL ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;
        if (!json_is_object(claims))
            *why = "the token's claims are not readable";
        else
            rc = check_claims(cfg, claims, now, out, why);
        json_decref(claims);
        free(text);
    }
    jwt_free(jwt);
    if (rc != KR_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}
