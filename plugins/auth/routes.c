/* The HTTP endpoints below the mount (`/auth`):
 *   POST /send-otp {phone}            202 {expires_in, retry_after}
 *   POST /verify-otp {phone, code}    200 tokens + user
 *   POST /refresh {refresh_token}     200 tokens + user (rotated)
 *   POST /logout                      204 (user)
 *   GET  /me, PATCH /me {name}        200 {id, phone, name} (user)
 * Bodies are strict: unknown fields are a validation error, so a client's
 * typo is reported instead of ignored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

#define NAME_MAX_CHARS 64

/* Parses the body and reports fields outside `allowed` into *errors. */
static int read_body(kr_req *req, const char *const *allowed, json_t **body, json_t **errors)
{
    int rc = kr_req_json(req, body);
    if (rc != KR_OK)
        return rc;
    const char *key;
    json_t *v;
    json_object_foreach(*body, key, v)
    {
        int known = 0;
        for (const char *const *a = allowed; *a != NULL && !known; a++)
            known = strcmp(*a, key) == 0;
        if (!known)
            kr_invalid_add(errors, key, "is not a field of this request");
    }
    return KR_OK;
}

static const char *string_field(const json_t *body, const char *name, json_t **errors)
{
    const json_t *v = json_object_get(body, name);
    if (!json_is_string(v)) {
        kr_invalid_add(errors, name, v == NULL ? "is required" : "must be a string");
        return NULL;
    }
    return json_string_value(v);
}

/* Normalises the phone field; answers the request itself when it is bad
 * (returns 1 then). */
static int take_phone(kr_req *req, const auth_state *st, const char *in, json_t *errors, char phone[AUTH_PHONE_MAX + 1])
{
    const char *why;
    auth_phone_rc prc = auth_phone_normalize(in, st->otp.countries, phone, &why);
    if (prc == AUTH_PHONE_NOT_ALLOWED) {
        json_decref(errors);
        kr_reply_problem(req, 400, "phone_not_allowed", "phone numbers of this country are not served", NULL);
        return 1;
    }
    if (prc != AUTH_PHONE_OK)
        kr_invalid_add(&errors, "phone", why);
    if (errors != NULL) {
        kr_reply_invalid(req, errors);
        return 1;
    }
    return 0;
}

static int send_otp(kr_req *req, void *udata)
{
    auth_state *st = udata;
    static const char *const fields[] = {"phone", NULL};
    json_t *body, *errors = NULL;
    int rc = read_body(req, fields, &body, &errors);
    if (rc != KR_OK)
        return rc;
    const char *in = string_field(body, "phone", &errors);
    char phone[AUTH_PHONE_MAX + 1];
    if (in == NULL) {
        kr_reply_invalid(req, errors);
        return KR_OK;
    }
    if (take_phone(req, st, in, errors, phone))
        return KR_OK;

    int64_t now = auth_now_ms(st);
    char member[64], rnd[24];
    auth_random_token(12, rnd, sizeof(rnd));
    snprintf(member, sizeof(member), "%lld-%s", (long long)now, rnd);
    const char *ip = kr_req_client_ip(req);
    char *cool = auth_key(st, "otp:cool:", phone);
    auth_window w[3] = {
        {auth_key(st, "rl:ip:h:", ip != NULL ? ip : "unknown"), st->otp.per_ip_per_hour, 3600},
        {auth_key(st, "rl:phone:h:", phone), st->otp.per_phone_per_hour, 3600},
        {auth_key(st, "rl:phone:d:", phone), st->otp.per_phone_per_day, 86400},
    };
    long retry = 0;
    rc = cool != NULL && w[0].key != NULL && w[1].key != NULL && w[2].key != NULL
             ? auth_rl_take(st->redis, cool, member, st->otp.resend_after, w, 3, now, &retry)
             : KR_ENOMEM;
    if (rc == KR_ELIMIT) {
        kr_counter_add(st->m_otp_limited, 1);
        char ra[24];
        snprintf(ra, sizeof(ra), "%ld", retry);
        kr_resp_header(req, "retry-after", ra);
        rc = kr_reply_problem(req, 429, "rate_limited", "too many codes asked for; try again later",
                              json_pack("{s:I}", "retry_after", (json_int_t)retry));
    } else if (rc == KR_OK) {
        char code[AUTH_CODE_MAX + 1];
        auth_otp_generate(&st->otp, code);
        rc = auth_otp_store(st, phone, code);
        if (rc == KR_OK)
            rc = auth_sms_enqueue(st, phone, code, now + st->otp.ttl * 1000);
        if (rc != KR_OK) {
            /* Our outage should not cost the user a send. */
            auth_rl_release(st->redis, cool, member, w, 3);
        } else {
            kr_counter_add(st->m_otp_sent, 1);
            rc = kr_reply_json(req, 202,
                               json_pack("{s:I, s:I}", "expires_in", (json_int_t)st->otp.ttl, "retry_after",
                                         (json_int_t)st->otp.resend_after));
        }
    }
    free(cool);
    for (size_t i = 0; i < 3; i++)
        free(w[i].key);
    return rc;
}

/* 200 {access_token, token_type, expires_in, refresh_token, user}. */
static int reply_tokens(kr_req *req, const auth_state *st, const json_t *user, const auth_session *s)
{
    const char *id = json_string_value(json_object_get(user, "_id"));
    const char *role = json_string_value(json_object_get(user, "role"));
    if (id == NULL)
        return KR_EINTERNAL;
    if (role == NULL || strcmp(role, "admin") != 0)
        role = "user";
    char *access = NULL;
    int rc = auth_jwt_issue(&st->jwt, id, role, s->sid, (long)(auth_now_ms(st) / 1000), &access, NULL);
    if (rc != KR_OK)
        return rc;
    json_t *out = json_pack("{s:s, s:s, s:I, s:s, s:o}", "access_token", access, "token_type", "Bearer", "expires_in",
                            (json_int_t)st->jwt.access_ttl, "refresh_token", s->token, "user", auth_user_view(user));
    free(access);
    return kr_reply_json(req, 200, out);
}

static int verify_otp(kr_req *req, void *udata)
{
    auth_state *st = udata;
    static const char *const fields[] = {"phone", "code", NULL};
    json_t *body, *errors = NULL;
    int rc = read_body(req, fields, &body, &errors);
    if (rc != KR_OK)
        return rc;
    const char *in = string_field(body, "phone", &errors);
    const char *code = string_field(body, "code", &errors);
    if (code != NULL && (strlen(code) != (size_t)st->otp.length || strspn(code, "0123456789") != strlen(code))) {
        char msg[48];
        snprintf(msg, sizeof(msg), "must be %d digits", st->otp.length);
        kr_invalid_add(&errors, "code", msg);
    }
    char phone[AUTH_PHONE_MAX + 1];
    if (in == NULL) {
        kr_reply_invalid(req, errors);
        return KR_OK;
    }
    if (take_phone(req, st, in, errors, phone))
        return KR_OK;

    rc = auth_otp_check(st, phone, code);
    if (rc == KR_EAUTH) {
        kr_counter_add(st->m_otp_invalid, 1);
        /* One body for wrong, expired, killed and never-sent codes. */
        return kr_reply_problem(req, 401, "otp_invalid", "the code is wrong or has expired", NULL);
    }
    if (rc != KR_OK)
        return rc;
    json_t *user = NULL;
    auth_session s = {0};
    rc = auth_user_login(st, phone, &user);
    if (rc == KR_OK)
        rc = auth_session_open(st, json_string_value(json_object_get(user, "_id")), &s);
    if (rc == KR_OK) {
        kr_counter_add(st->m_logins, 1);
        rc = reply_tokens(req, st, user, &s);
    }
    auth_session_clear(&s);
    json_decref(user);
    return rc;
}

static int refresh(kr_req *req, void *udata)
{
    auth_state *st = udata;
    static const char *const fields[] = {"refresh_token", NULL};
    json_t *body, *errors = NULL;
    int rc = read_body(req, fields, &body, &errors);
    if (rc != KR_OK)
        return rc;
    const char *token = string_field(body, "refresh_token", &errors);
    if (errors != NULL) {
        kr_reply_invalid(req, errors);
        return KR_OK;
    }
    auth_session s;
    json_t *user = NULL;
    rc = auth_session_rotate(st, token, &s);
    if (rc == KR_OK) {
        rc = auth_user_get(st, s.user_id, &user);
        /* A deleted user's sessions die with it. */
        if (rc == KR_ENOTFOUND)
            rc = KR_EAUTH;
    }
    if (rc == KR_OK)
        rc = reply_tokens(req, st, user, &s);
    else if (rc == KR_EAUTH)
        rc = kr_reply_problem(req, 401, "refresh_invalid", "the refresh token is not valid; log in again", NULL);
    auth_session_clear(&s);
    json_decref(user);
    return rc;
}

static int logout(kr_req *req, void *udata)
{
    auth_state *st = udata;
    const kr_principal *p = kr_req_principal(req);
    if (p->session_id == NULL)
        return KR_EAUTH;
    int rc = auth_session_revoke(st, p->session_id, p->token_id, "logout");
    if (rc != KR_OK)
        return rc;
    return kr_reply(req, 204, NULL, NULL, 0);
}

static int reply_user(kr_req *req, int rc, json_t *user)
{
    if (rc == KR_ENOTFOUND)
        return kr_reply_problem(req, 404, "not_found", "this user no longer exists", NULL);
    if (rc != KR_OK)
        return rc;
    rc = kr_reply_json(req, 200, auth_user_view(user));
    json_decref(user);
    return rc;
}

static int me_get(kr_req *req, void *udata)
{
    json_t *user = NULL;
    int rc = auth_user_get(udata, kr_req_principal(req)->user_id, &user);
    return reply_user(req, rc, user);
}

/* A display name: trimmed, 1..64 characters, no control characters. NULL
 * (with *why) when not acceptable; else a request-scoped copy. */
static char *clean_name(kr_req *req, const char *in, const char **why)
{
    while (*in == ' ')
        in++;
    size_t n = strlen(in);
    while (n > 0 && in[n - 1] == ' ')
        n--;
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c < 0x20 || c == 0x7f) {
            *why = "must not hold control characters";
            return NULL;
        }
        chars += (c & 0xc0) != 0x80; /* UTF-8 lead bytes only */
    }
    if (chars == 0 || chars > NAME_MAX_CHARS) {
        *why = chars == 0 ? "must not be empty" : "must be at most 64 characters";
        return NULL;
    }
    return kr_req_printf(req, "%.*s", (int)n, in);
}

static int me_patch(kr_req *req, void *udata)
{
    static const char *const fields[] = {"name", NULL};
    json_t *body, *errors = NULL;
    int rc = read_body(req, fields, &body, &errors);
    if (rc != KR_OK)
        return rc;
    const json_t *v = json_object_get(body, "name");
    const char *name = NULL, *why = NULL;
    if (v == NULL)
        kr_invalid_add(&errors, "name", "is required");
    else if (!json_is_string(v) && !json_is_null(v))
        kr_invalid_add(&errors, "name", "must be a string or null");
    else if (json_is_string(v) && (name = clean_name(req, json_string_value(v), &why)) == NULL)
        kr_invalid_add(&errors, "name", why);
    if (errors != NULL) {
        kr_reply_invalid(req, errors);
        return KR_OK;
    }
    json_t *user = NULL;
    rc = auth_user_set_name(udata, kr_req_principal(req)->user_id, name, &user);
    return reply_user(req, rc, user);
}

int auth_routes_add(kr_plugin_ctx *ctx, auth_state *st)
{
    int rc;
    if ((rc = kr_route_add(ctx, "POST", "/send-otp", KR_AUTH_NONE, send_otp, st)) < 0 ||
        (rc = kr_route_add(ctx, "POST", "/verify-otp", KR_AUTH_NONE, verify_otp, st)) < 0 ||
        (rc = kr_route_add(ctx, "POST", "/refresh", KR_AUTH_NONE, refresh, st)) < 0 ||
        (rc = kr_route_add(ctx, "POST", "/logout", KR_AUTH_USER, logout, st)) < 0 ||
        (rc = kr_route_add(ctx, "GET", "/me", KR_AUTH_USER, me_get, st)) < 0 ||
        (rc = kr_route_add(ctx, "PATCH", "/me", KR_AUTH_USER, me_patch, st)) < 0)
        return rc;
    return kr_openapi_add(ctx, kr_plugin_openapi_json); /* openapi.json */
}
