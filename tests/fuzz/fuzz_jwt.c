/* Fuzz target: auth.so's request authenticator (plugins/auth/authn.c: the
 * Authorization header) and access-token check (jwt.c: libjwt decoding,
 * the pinned algorithm, every claim), against a reference written here
 * with libsodium's HMAC-SHA256 and base64url.
 *
 * The first byte picks a mode:
 *   0  the rest is the Authorization header as the client sent it;
 *   1  a token built here: the next four bytes pick the header's alg (and
 *      the algorithm the token is signed with), the scheme ("Bearer ",
 *      "bearer ", "Basic ", ...), the key (the secret or another) and the
 *      header's typ; the rest is the claims JSON, as bytes;
 *   2  the rest is "HEADER\nCLAIMS", both as bytes, signed here with the
 *      configured key and HS256.
 * The oracle: nothing crashes, leaks or overflows; a token is accepted
 * only when its signature is HMAC-SHA256 with the configured secret over
 * exactly its first two parts, and then the principal is the claims' sub,
 * role, sid and jti and the claims pass the reference rules (typ, iss,
 * aud, integer exp/nbf/iat within the leeway, non-empty strings that fit,
 * role user or admin). In modes 1 and 2, where the reference knows the
 * whole token, accepting and refusing must both agree with it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include "auth.h"

#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "jwt oracle: %s (line %d)\n", #cond, __LINE__);                                           \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fputc('\n', stderr);                                                                                       \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

#define SECRET "fuzz-secret-0123456789abcdef-0123456789"
#define WRONG "fuzz-secret-0123456789abcdef-0123456780"
#define ISSUER "kirana"
#define AUDIENCE "kirana-app"
#define NOW_S 1800000000LL
#define LEEWAY 30
#define TOKEN_MAX 4096

/* --- what authn.c needs from the host and the rest of auth.so --- */

struct kr_req {
    const char *authorization;
    char *dups[8];
    int ndups;
};

const char *kr_req_header(const kr_req *req, const char *name)
{
    return strcasecmp(name, "authorization") == 0 ? req->authorization : NULL;
}

char *kr_req_strdup(kr_req *req, const char *s)
{
    if (req->ndups == (int)(sizeof(req->dups) / sizeof(req->dups[0])))
        return NULL;
    return req->dups[req->ndups++] = strdup(s);
}

void kr_req_log(const kr_req *req, kr_level level, const char *fmt, ...)
{
    (void)req, (void)level, (void)fmt;
}

static int64_t fixed_clock(void *udata)
{
    (void)udata;
    return NOW_S * 1000;
}

int64_t auth_now_ms(const auth_state *st)
{
    return st->clock(st->clock_udata);
}

/* No deny-list here: revocation is refresh.c's, tested with Redis. */
int auth_denied(const auth_state *st, const char *jti, const char *sid)
{
    (void)st, (void)jti, (void)sid;
    return KR_OK;
}

/* --- the reference --- */

static char *b64url(const unsigned char *p, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *s = malloc(cap);
    sodium_bin2base64(s, cap, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return s;
}

/* base64url of HMAC-SHA256(key, text[0..n)). */
static char *hmac_b64(const char *key, const char *text, size_t n)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)text, n);
    crypto_auth_hmacsha256_final(&st, mac);
    return b64url(mac, sizeof(mac));
}

/* JSON from bytes as libjwt reads it: up to the first NUL, objects and
 * arrays only, no duplicate check. */
static json_t *load_bytes(const unsigned char *p, size_t n)
{
    char *s = malloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    json_t *j = json_loads(s, 0, NULL);
    free(s);
    return j;
}

static int str_is(const json_t *o, const char *name, const char *want)
{
    const char *v = json_string_value(json_object_get(o, name));
    return v != NULL && strcmp(v, want) == 0;
}

static int str_fits(const json_t *o, const char *name, size_t size)
{
    const char *v = json_string_value(json_object_get(o, name));
    return v != NULL && v[0] != '\0' && strlen(v) < size;
}

/* The claims rules of plugins/auth/README.md, with wide arithmetic. */
static int claims_ok(const json_t *c)
{
    if (!json_is_object(c) || !str_is(c, "typ", "access") || !str_is(c, "iss", ISSUER) ||
        !str_is(c, "aud", AUDIENCE))
        return 0;
    const json_t *exp = json_object_get(c, "exp"), *nbf = json_object_get(c, "nbf"), *iat = json_object_get(c, "iat");
    if (!json_is_integer(exp) || !json_is_integer(nbf) || !json_is_integer(iat))
        return 0;
    __int128 now = NOW_S;
    if (now >= (__int128)json_integer_value(exp) + LEEWAY || now + LEEWAY < json_integer_value(nbf) ||
        now + LEEWAY < json_integer_value(iat))
        return 0;
    if (!str_fits(c, "sub", 129) || !str_fits(c, "jti", AUTH_ID_LEN + 1) || !str_fits(c, "sid", AUTH_ID_LEN + 1) ||
        !str_fits(c, "role", 16))
        return 0;
    return str_is(c, "role", "user") || str_is(c, "role", "admin");
}

/* The header rules of libjwt plus the pinned algorithm. */
static int header_ok(const json_t *h)
{
    const char *alg = json_string_value(json_object_get(h, "alg"));
    const char *typ = json_string_value(json_object_get(h, "typ"));
    return alg != NULL && strcasecmp(alg, "HS256") == 0 && (typ == NULL || strcasecmp(typ, "JWT") == 0);
}

static auth_state *state(void)
{
    static auth_state st;
    if (st.clock == NULL) {
        if (sodium_init() < 0)
            abort();
        st.jwt = (auth_jwt_cfg){.key = (const unsigned char *)SECRET,
                                .key_len = strlen(SECRET),
                                .issuer = ISSUER,
                                .audience = AUDIENCE,
                                .access_ttl = 900,
                                .leeway = LEEWAY};
        st.clock = fixed_clock;
    }
    return &st;
}

/* Runs the authenticator on the header value; checks what it accepted. */
static int authenticate(const char *header)
{
    kr_req req = {.authorization = header};
    kr_principal p = {0};
    int rc = auth_authenticate(&req, &p, state());
    CHECK(rc == KR_OK || rc == KR_EAUTH, "rc %d", rc);
    if (rc == KR_OK) {
        CHECK(strncasecmp(header, "Bearer ", 7) == 0, "accepted without the Bearer scheme: %s", header);
        const char *tok = header + 7;
        while (*tok == ' ')
            tok++;
        const char *d1 = strchr(tok, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
        CHECK(d1 != NULL && d2 != NULL && strchr(d2 + 1, '.') == NULL, "accepted a token without 3 parts: %s", tok);
        char *mac = hmac_b64(SECRET, tok, (size_t)(d2 - tok));
        CHECK(strcmp(mac, d2 + 1) == 0, "accepted a token not signed with the secret: %s", tok);
        free(mac);
        unsigned char *bin = malloc(strlen(tok));
        size_t n = 0;
        CHECK(sodium_base642bin(bin, strlen(tok), d1 + 1, (size_t)(d2 - d1 - 1), NULL, &n, NULL,
                                sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0,
              "accepted claims that are not base64url: %s", tok);
        json_t *claims = load_bytes(bin, n);
        free(bin);
        CHECK(claims_ok(claims), "accepted claims the rules refuse: %s", tok);
        CHECK(p.user_id && p.role && p.session_id && p.token_id, "principal incomplete");
        CHECK(str_is(claims, "sub", p.user_id) && str_is(claims, "role", p.role) &&
                  str_is(claims, "sid", p.session_id) && str_is(claims, "jti", p.token_id),
              "principal differs from the claims");
        json_decref(claims);
    }
    for (int i = 0; i < req.ndups; i++)
        free(req.dups[i]);
    return rc;
}

static const char *const algs[] = {"HS256", "hs256", "HS384", "HS512", "none", "RS256", "ES256", "", NULL};
static const char *const schemes[] = {"Bearer ", "bearer ", "BEARER   ", "Bearer\t", "Basic ", "", "Bearer"};
static const char *const typs[] = {NULL, "JWT", "jwt", "JWS"};

/* Signs header.claims with alg/key (alg NULL: unsigned, empty signature). */
static char *sign(const char *alg, const char *key, const unsigned char *hdr, size_t hn, const unsigned char *cl,
                  size_t cn)
{
    char *h = b64url(hdr, hn), *c = b64url(cl, cn);
    size_t len = strlen(h) + strlen(c) + 2;
    char *text = malloc(len + 200);
    snprintf(text, len + 200, "%s.%s", h, c);
    free(h);
    free(c);
    unsigned char mac[crypto_auth_hmacsha512_BYTES];
    size_t maclen = 0;
    if (alg != NULL && strcasecmp(alg, "HS256") == 0) {
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)text, strlen(text));
        crypto_auth_hmacsha256_final(&st, mac);
        maclen = crypto_auth_hmacsha256_BYTES;
    } else if (alg != NULL && strcasecmp(alg, "HS512") == 0) {
        crypto_auth_hmacsha512_state st;
        crypto_auth_hmacsha512_init(&st, (const unsigned char *)key, strlen(key));
        crypto_auth_hmacsha512_update(&st, (const unsigned char *)text, strlen(text));
        crypto_auth_hmacsha512_final(&st, mac);
        maclen = crypto_auth_hmacsha512_BYTES;
    } else if (alg != NULL && strcasecmp(alg, "HS384") == 0) {
        /* libsodium has no HMAC-SHA384: sign with SHA-256, a wrong MAC */
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)text, strlen(text));
        crypto_auth_hmacsha256_final(&st, mac);
        maclen = crypto_auth_hmacsha256_BYTES;
    }
    strcat(text, ".");
    if (maclen > 0) {
        char *m = b64url(mac, maclen);
        strcat(text, m);
        free(m);
    }
    return text;
}

static void signed_token(const char *scheme, const char *alg, const char *key, const unsigned char *hdr, size_t hn,
                         const unsigned char *cl, size_t cn, int expect_known)
{
    char *tok = sign(alg, key, hdr, hn, cl, cn);
    char *header = malloc(strlen(scheme) + strlen(tok) + 1);
    strcpy(header, scheme);
    strcat(header, tok);
    int rc = authenticate(header);
    if (expect_known) {
        json_t *h = load_bytes(hdr, hn), *c = load_bytes(cl, cn);
        int want = strncasecmp(scheme, "Bearer ", 7) == 0 && strlen(tok) <= TOKEN_MAX && alg != NULL &&
                   strcasecmp(alg, "HS256") == 0 && strcmp(key, SECRET) == 0 && header_ok(h) && claims_ok(c);
        CHECK((rc == KR_OK) == want, "%s a token the reference %s: %s", rc == KR_OK ? "accepted" : "refused",
              want ? "accepts" : "refuses", header);
        json_decref(h);
        json_decref(c);
    }
    free(header);
    free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 6000)
        return 0;
    state();
    int mode = data[0] % 3;
    data++, size--;
    if (mode == 0) {
        char *header = malloc(size + 1);
        memcpy(header, data, size);
        header[size] = '\0';
        authenticate(header);
        free(header);
        return 0;
    }
    if (mode == 1) {
        if (size < 4)
            return 0;
        static const char *const keys[] = {SECRET, WRONG, &SECRET[1]};
        const char *alg = algs[data[0] % (sizeof(algs) / sizeof(algs[0]))];
        const char *scheme = schemes[data[1] % (sizeof(schemes) / sizeof(schemes[0]))];
        const char *key = keys[data[2] % 3];
        const char *typ = typs[data[3] % 4];
        char hdr[96];
        if (alg == NULL)
            snprintf(hdr, sizeof(hdr), "{%s%s%s}", typ ? "\"typ\":\"" : "", typ ? typ : "", typ ? "\"" : "");
        else
            snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\"%s%s%s}", alg, typ ? ",\"typ\":\"" : "", typ ? typ : "",
                     typ ? "\"" : "");
        signed_token(scheme, alg, key, (const unsigned char *)hdr, strlen(hdr), data + 4, size - 4, 1);
        return 0;
    }
    const uint8_t *nl = memchr(data, '\n', size);
    if (nl == NULL)
        return 0;
    signed_token("Bearer ", "HS256", SECRET, data, (size_t)(nl - data), nl + 1, size - (size_t)(nl - data) - 1, 1);
    return 0;
}
