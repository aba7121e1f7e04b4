/* auth.so internals: the plugin state and the interfaces between its files.
 *
 * Files by concern:
 *   plugin.c     descriptor, config schema, init/start/fini, secrets
 *   keys.c       key derivation, keyed hashes, random tokens, secretbox
 *   phone.c      E.164 normalising, validation, country allow-list
 *   jwt.c        access tokens (HS256 via libjwt) and every claim check
 *   otp.c        one live code per phone in Redis, attempts, kill, consume
 *   ratelimit.c  sliding-window send limits and the resend cool-down
 *   refresh.c    refresh-token families in the DB, rotation, revocation,
 *                Redis deny-lists for revoked jti and sid, the hourly sweep
 *   users.c      the `users` collection
 *   sms.c        the `otp` queue: encrypted jobs, the consumer, providers
 *   authn.c      the request authenticator other plugins rely on
 *   routes.c     the HTTP endpoints
 *   cli.c        `kirana admin grant|revoke PHONE`
 *
 * Everything in auth_state is set in init and read-only afterwards, so any
 * worker or job thread may read it without locks.
 */
#ifndef KIRANA_AUTH_H
#define KIRANA_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include <kirana/kirana.h>

#define AUTH_KEY_BYTES 32
/* Random ids (jti, sid): 16 bytes as unpadded base64url. */
#define AUTH_ID_BYTES 16
#define AUTH_ID_LEN 22
/* Hex of a 32-byte keyed hash. */
#define AUTH_HASH_HEX 64
/* E.164: "+" and at most 15 digits. */
#define AUTH_PHONE_MAX 16
#define AUTH_CODE_MAX 9

typedef int64_t (*auth_clock_fn)(void *udata);

typedef enum auth_provider {
    AUTH_SMS_CONSOLE,
    AUTH_SMS_FILE,
    AUTH_SMS_HTTP,
} auth_provider;

/* What the JWT code needs; pure data so unit tests can build one. */
typedef struct auth_jwt_cfg {
    const unsigned char *key; /* HS256 secret, >= 32 bytes */
    size_t key_len;
    const char *issuer;
    const char *audience;
    long access_ttl; /* seconds */
    long leeway;     /* seconds of clock skew tolerated on exp, nbf, iat */
} auth_jwt_cfg;

typedef struct auth_otp_cfg {
    int length; /* digits */
    long ttl;   /* seconds */
    long max_attempts;
    long resend_after;
    long per_phone_per_hour;
    long per_phone_per_day;
    long per_ip_per_hour;
    const char **countries; /* NULL-terminated, borrowed from the config */
    int reusable;           /* dev-only benchmark knob: success keeps the code */
} auth_otp_cfg;

typedef struct auth_sms_cfg {
    auth_provider provider;
    const char *path;          /* file */
    const char *url;           /* http */
    const char *body;          /* http: template with {phone} and {code} */
    char *content_type_header; /* http: "Content-Type: ..." (owned) */
    char *auth_header;         /* http: "Name: value" from the env, or NULL (owned) */
    long timeout_ms;
    long attempts;
    long backoff_ms;
    int concurrency;
    int curl_ready; /* curl_global_init done: undo at fini */
} auth_sms_cfg;

typedef struct auth_state {
    kr_plugin_ctx *ctx;
    kr_db *db;
    kr_coll *users;
    kr_coll *sessions;
    kr_redis *redis;
    kr_queue *queue;
    int dev;
    const char *prefix; /* Redis key prefix */

    unsigned char *secret; /* JWT secret (owned, wiped at fini) */
    size_t secret_len;
    auth_jwt_cfg jwt;
    long refresh_ttl;
    long refresh_idle_ttl;

    unsigned char otp_key[AUTH_KEY_BYTES];     /* keyed hash of OTP codes */
    unsigned char refresh_key[AUTH_KEY_BYTES]; /* keyed hash of refresh tokens */
    unsigned char box_key[AUTH_KEY_BYTES];     /* secretbox of queued codes */

    auth_otp_cfg otp;
    auth_sms_cfg sms;
    char (*admins)[AUTH_PHONE_MAX + 1]; /* normalised config admins (owned) */
    size_t nadmins;

    /* Time source: the real clock; unit tests point it at the fake host's
     * clock so Redis TTLs, rate windows and token times agree. */
    auth_clock_fn clock;
    void *clock_udata;

    kr_counter *m_otp_sent;
    kr_counter *m_otp_limited;
    kr_counter *m_otp_invalid;
    kr_counter *m_logins;
    kr_counter *m_refresh_reuse;
} auth_state;

int64_t auth_now_ms(const auth_state *st);
int64_t auth_realtime_ms(void *udata);
/* "2026-01-31T12:34:56.789Z" into buf (>= 25 bytes). */
void auth_iso_time(int64_t ms, char *buf, size_t len);
/* A Redis key: prefix + the parts, into a malloc()ed string. */
char *auth_key(const auth_state *st, const char *kind, const char *id);

/* --- keys.c --- */
/* Derives the three subkeys from a master secret (and the secretbox key
 * from box_secret when given). 0 or -1. */
int auth_keys_derive(auth_state *st, const unsigned char *secret, size_t len, const unsigned char *box_secret,
                     size_t box_len);
/* Keyed BLAKE2b of a ":" b as 64 hex digits plus NUL. */
void auth_keyed_hash_hex(const unsigned char key[AUTH_KEY_BYTES], const char *a, const char *b,
                         char out[AUTH_HASH_HEX + 1]);
/* Constant-time equality of two strings of the same expected length. */
int auth_hash_equal(const char *a, const char *b);
/* n random bytes as unpadded base64url into out (size >= 4n/3 + 2). */
void auth_random_token(size_t n, char *out, size_t outlen);
/* Encrypts msg with the box key: unpadded base64url of nonce|mac|cipher
 * (malloc()ed), NULL out of memory. */
char *auth_box_seal(const auth_state *st, const char *msg);
/* Opens what auth_box_seal made; malloc()ed plaintext or NULL. */
char *auth_box_open(const auth_state *st, const char *sealed);

/* --- phone.c --- */
typedef enum auth_phone_rc {
    AUTH_PHONE_OK = 0,
    AUTH_PHONE_INVALID = -1,     /* not an E.164 number (message says why) */
    AUTH_PHONE_NOT_ALLOWED = -2, /* valid, but its country is not allowed */
} auth_phone_rc;
/* Normalises in (spaces, dashes, dots, parentheses; "+" or "00" prefix) to
 * "+<digits>" in out and checks it against the allow-list (NULL: any) and
 * the national-number rules of known countries. *why is a static message. */
auth_phone_rc auth_phone_normalize(const char *in, const char *const *countries, char out[AUTH_PHONE_MAX + 1],
                                   const char **why);

/* --- jwt.c --- */
typedef struct auth_claims {
    char sub[129];
    char role[16];
    char sid[AUTH_ID_LEN + 1];
    char jti[AUTH_ID_LEN + 1];
    long iat, nbf, exp;
} auth_claims;
/* Signs an access token for sub/role/sid at `now` (seconds). *token is
 * malloc()ed; claims_out (may be NULL) gets what was signed. 0 or KR_EINVAL
 * / KR_ENOMEM. */
int auth_jwt_issue(const auth_jwt_cfg *cfg, const char *sub, const char *role, const char *sid, long now, char **token,
                   auth_claims *claims_out);
/* Verifies signature (HS256 only), iss, aud, exp, nbf, iat, typ, and that
 * sub, jti, sid and role are present. 0, or KR_EAUTH with *why static. */
int auth_jwt_verify(const auth_jwt_cfg *cfg, const char *token, long now, auth_claims *out, const char **why);

/* --- ratelimit.c --- */
typedef struct auth_window {
    char *key; /* owned by the caller */
    long limit;
    long window_s;
} auth_window;
/* Takes one send slot: the cool-down key (SET NX, resend_after seconds)
 * and one entry in each sliding window, all named `member` (unique per
 * send). All or nothing: on KR_ELIMIT every part taken is given back and
 * *retry_after (seconds, >= 1) says when the last refusal lifts.
 * KR_EUNAVAILABLE when Redis fails. */
int auth_rl_take(kr_redis *r, const char *cool_key, const char *member, long resend_after, const auth_window *w,
                 size_t n, int64_t now_ms, long *retry_after);
/* Gives back a slot auth_rl_take granted (best effort). */
void auth_rl_release(kr_redis *r, const char *cool_key, const char *member, const auth_window *w, size_t n);

/* --- otp.c --- */
/* A fresh code of cfg->length digits from libsodium. */
void auth_otp_generate(const auth_otp_cfg *cfg, char code[AUTH_CODE_MAX + 1]);
/* Stores code as the phone's one live code (replacing any other). */
int auth_otp_store(const auth_state *st, const char *phone, const char *code);
/* Checks code: 0 when right (and consumes it), KR_EAUTH when wrong, expired,
 * killed or absent (a wrong try counts; the last allowed one kills the
 * code), KR_EUNAVAILABLE when Redis fails. */
int auth_otp_check(const auth_state *st, const char *phone, const char *code);

/* --- refresh.c --- */
typedef struct auth_session {
    char sid[AUTH_ID_LEN + 1];
    char *user_id;                    /* malloc()ed */
    char token[AUTH_ID_LEN + 1 + 64]; /* what the client gets */
} auth_session;
/* Opens a new family for user_id. */
int auth_session_open(const auth_state *st, const char *user_id, auth_session *out);
/* Rotates: the presented token must be its family's current one, within
 * the absolute and idle lifetimes. Reuse of a rotated token revokes the
 * family. 0, KR_EAUTH (invalid/expired/reused/revoked), KR_EUNAVAILABLE. */
int auth_session_rotate(const auth_state *st, const char *token, auth_session *out);
/* Revokes a family and denies its access tokens until they expire; with
 * jti also denies that access token. */
int auth_session_revoke(const auth_state *st, const char *sid, const char *jti, const char *reason);
void auth_session_clear(auth_session *s);
/* Queues the next hourly sweep of expired families (idempotent per hour). */
int auth_sweep_schedule(const auth_state *st);
/* The `auth-sweep` consumer: deletes expired families, schedules the next. */
int auth_sweep_consume(kr_job *job, void *udata);
/* 0 when neither jti nor sid is denied, KR_EAUTH when one is,
 * KR_EUNAVAILABLE when Redis fails. */
int auth_denied(const auth_state *st, const char *jti, const char *sid);

/* --- users.c --- */
/* Finds or creates the user of phone (role admin when phone is a config
 * admin). *user caller-owned. */
int auth_user_login(const auth_state *st, const char *phone, json_t **user);
int auth_user_get(const auth_state *st, const char *id, json_t **user);
int auth_user_set_name(const auth_state *st, const char *id, const char *name, json_t **user);
/* Sets role, creating the user when absent (CLI). */
int auth_user_set_role(const auth_state *st, const char *phone, const char *role, json_t **user);
/* {id, phone, name} of a user document (new reference). */
json_t *auth_user_view(const json_t *user);
int auth_is_config_admin(const auth_state *st, const char *phone);
int auth_users_indexes(const auth_state *st);

/* --- sms.c --- */
/* Queues the SMS job for phone with code sealed. */
int auth_sms_enqueue(const auth_state *st, const char *phone, const char *code, int64_t expires_at_ms);
/* The `otp` queue consumer. */
int auth_sms_consume(kr_job *job, void *udata);

/* --- authn.c --- */
int auth_authenticate(kr_req *req, kr_principal *out, void *udata);

/* --- routes.c --- */
int auth_routes_add(kr_plugin_ctx *ctx, auth_state *st);

/* --- cli.c --- */
int auth_cli_add(kr_plugin_ctx *ctx, auth_state *st);

#endif
