/* auth.so: phone + OTP login, JWT access tokens, rotating refresh tokens,
 * roles, and the request authenticator every other plugin relies on.
 *
 * This file holds the descriptor, the config schema (every number of
 * DESIGN.md's "Security numbers" is a default here) and the life cycle.
 * init only reads config and registers; nothing talks to the DB or Redis
 * before start, so `kirana --check-config` needs no servers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "auth.h"

#define SECRET_MIN 32
#define SECRET_MAX 4096

#define ENV_NAME "\"type\": \"string\", \"pattern\": \"^[A-Za-z_][A-Za-z0-9_]*$\""
#define COUNT(def, max) "\"type\": \"integer\", \"minimum\": 1, \"maximum\": " #max ", \"default\": " #def

/* One line per config key: clang-format would wrap the pieces apart. */
/* clang-format off */
static const char schema[] =
    "{\"type\": \"object\", \"additionalProperties\": false, \"properties\": {"
    " \"dev\": {\"type\": \"boolean\", \"default\": false},"
    " \"redis_prefix\": {\"type\": \"string\", \"pattern\": \"^[A-Za-z0-9:_.-]{1,64}$\", \"default\": \"auth:\"},"
    " \"jwt\": {\"type\": \"object\", \"additionalProperties\": false, \"default\": {}, \"properties\": {"
    "   \"secret_env\": {" ENV_NAME ", \"default\": \"KIRANA_JWT_SECRET\"},"
    "   \"issuer\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 256, \"default\": \"kirana\"},"
    "   \"audience\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 256, \"default\": \"kirana-app\"},"
    "   \"access_ttl\": {" COUNT(900, 86400) "},"
    "   \"refresh_ttl\": {" COUNT(2592000, 31536000) "},"
    "   \"refresh_idle_ttl\": {" COUNT(604800, 31536000) "},"
    "   \"leeway\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 300, \"default\": 30}}},"
    " \"otp\": {\"type\": \"object\", \"additionalProperties\": false, \"default\": {}, \"properties\": {"
    "   \"length\": {\"type\": \"integer\", \"minimum\": 4, \"maximum\": 9, \"default\": 6},"
    "   \"ttl\": {" COUNT(300, 86400) "},"
    "   \"max_attempts\": {" COUNT(5, 1000000000) "},"
    "   \"resend_after\": {" COUNT(60, 86400) "},"
    "   \"per_phone_per_hour\": {" COUNT(5, 1000000000) "},"
    "   \"per_phone_per_day\": {" COUNT(10, 1000000000) "},"
    "   \"per_ip_per_hour\": {" COUNT(20, 1000000000) "},"
    "   \"countries\": {\"type\": \"array\", \"minItems\": 1, \"maxItems\": 300, \"default\": [\"91\"],"
    "     \"items\": {\"type\": \"string\", \"pattern\": \"^[1-9][0-9]{0,2}$\"}},"
    "   \"dev_reusable_codes\": {\"type\": \"boolean\", \"default\": false}}},"
    " \"sms\": {\"type\": \"object\", \"additionalProperties\": false, \"default\": {}, \"properties\": {"
    "   \"provider\": {\"enum\": [\"console\", \"file\", \"http\"], \"default\": \"console\"},"
    "   \"path\": {\"type\": \"string\", \"minLength\": 1},"
    "   \"url\": {\"type\": \"string\", \"pattern\": \"^https?://[^ ]+$\"},"
    "   \"body\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 4096,"
    "     \"default\": \"{\\\"to\\\": \\\"{phone}\\\", \\\"message\\\": \\\"Your kirana code is {code}\\\"}\"},"
    "   \"content_type\": {\"type\": \"string\", \"pattern\": \"^[!-~]+( *;[ -~]*)?$\","
    "     \"default\": \"application/json\"},"
    "   \"auth_header\": {\"type\": \"string\", \"pattern\": \"^[A-Za-z0-9-]{1,64}$\"},"
    "   \"auth_env\": {" ENV_NAME "},"
    "   \"key_env\": {" ENV_NAME "},"
    "   \"timeout_ms\": {\"type\": \"integer\", \"minimum\": 100, \"maximum\": 60000, \"default\": 5000},"
    "   \"attempts\": {" COUNT(5, 20) "},"
    "   \"backoff_ms\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 600000, \"default\": 2000},"
    "   \"concurrency\": {" COUNT(4, 256) "}}},"
    " \"admins\": {\"type\": \"array\", \"maxItems\": 1000, \"default\": [],"
    "   \"items\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 40}}}}";
/* clang-format on */

int64_t auth_realtime_ms(void *udata)
{
    (void)udata;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t auth_now_ms(const auth_state *st)
{
    return st->clock(st->clock_udata);
}

void auth_iso_time(int64_t ms, char *buf, size_t len)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char base[24];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03dZ", base, (int)(ms % 1000));
}

char *auth_key(const auth_state *st, const char *kind, const char *id)
{
    size_t n = strlen(st->prefix) + strlen(kind) + strlen(id) + 1;
    char *k = malloc(n);
    if (k != NULL)
        snprintf(k, n, "%s%s%s", st->prefix, kind, id);
    return k;
}

static const json_t *obj(const json_t *o, const char *k)
{
    return json_object_get(o, k);
}
static long num(const json_t *o, const char *k)
{
    return (long)json_integer_value(json_object_get(o, k));
}
static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* The reason goes into the loader's one refusal line (kr_error) and the
 * log. */
static int refuse(const auth_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(const auth_state *st, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    kr_log(st->ctx, KR_LOG_ERROR, "refusing to start: %s", msg);
    return kr_error(st->ctx, KR_EINVAL, "%s", msg);
}

/* The JWT secret from the environment, or in dev a random one. */
static int load_secret(auth_state *st, const json_t *jwt)
{
    const char *var = str(jwt, "secret_env");
    const char *val = getenv(var);
    size_t len = val != NULL ? strlen(val) : 0;
    if (len > SECRET_MAX)
        return refuse(st, "jwt.secret_env: $%s is longer than 4096 bytes", var);
    if (len >= SECRET_MIN) {
        st->secret_len = len;
        st->secret = malloc(len);
        if (st->secret == NULL)
            return KR_ENOMEM;
        memcpy(st->secret, val, len);
        return KR_OK;
    }
    if (!st->dev)
        return refuse(st,
                      "jwt.secret_env: $%s must hold a secret of at least 32 bytes (e.g. `openssl rand -base64 48`);"
                      " only `dev: true` runs without one",
                      var);
    st->secret_len = SECRET_MIN;
    st->secret = malloc(SECRET_MIN);
    if (st->secret == NULL)
        return KR_ENOMEM;
    randombytes_buf(st->secret, SECRET_MIN);
    kr_log(st->ctx, KR_LOG_WARN,
           "dev: $%s is unset or shorter than 32 bytes, so this process signs with a random secret: tokens die "
           "with it and other processes cannot read its tokens or OTP jobs",
           var);
    return KR_OK;
}

static int read_jwt(auth_state *st, const json_t *jwt)
{
    int rc = load_secret(st, jwt);
    if (rc != KR_OK)
        return rc;
    st->jwt = (auth_jwt_cfg){.key = st->secret,
                             .key_len = st->secret_len,
                             .issuer = str(jwt, "issuer"),
                             .audience = str(jwt, "audience"),
                             .access_ttl = num(jwt, "access_ttl"),
                             .leeway = num(jwt, "leeway")};
    st->refresh_ttl = num(jwt, "refresh_ttl");
    st->refresh_idle_ttl = num(jwt, "refresh_idle_ttl");
    return KR_OK;
}

static int read_otp(auth_state *st, const json_t *otp)
{
    st->otp = (auth_otp_cfg){.length = (int)num(otp, "length"),
                             .ttl = num(otp, "ttl"),
                             .max_attempts = num(otp, "max_attempts"),
                             .resend_after = num(otp, "resend_after"),
                             .per_phone_per_hour = num(otp, "per_phone_per_hour"),
                             .per_phone_per_day = num(otp, "per_phone_per_day"),
                             .per_ip_per_hour = num(otp, "per_ip_per_hour"),
                             .reusable = json_is_true(obj(otp, "dev_reusable_codes"))};
    if (st->otp.reusable && !st->dev)
        return refuse(st, "otp.dev_reusable_codes is a benchmark knob: it needs dev: true");
    const json_t *list = obj(otp, "countries");
    st->otp.countries = calloc(json_array_size(list) + 1, sizeof(*st->otp.countries));
    if (st->otp.countries == NULL)
        return KR_ENOMEM;
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v) st->otp.countries[i] = json_string_value(v);
    return KR_OK;
}

static char *header_line(const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 3;
    char *h = malloc(n);
    if (h != NULL)
        snprintf(h, n, "%s: %s", name, value);
    return h;
}

static int read_sms(auth_state *st, const json_t *sms)
{
    const char *provider = str(sms, "provider");
    auth_sms_cfg *s = &st->sms;
    s->provider = strcmp(provider, "file") == 0   ? AUTH_SMS_FILE
                  : strcmp(provider, "http") == 0 ? AUTH_SMS_HTTP
                                                  : AUTH_SMS_CONSOLE;
    s->path = str(sms, "path");
    s->url = str(sms, "url");
    s->body = str(sms, "body");
    s->timeout_ms = num(sms, "timeout_ms");
    s->attempts = num(sms, "attempts");
    s->backoff_ms = num(sms, "backoff_ms");
    s->concurrency = (int)num(sms, "concurrency");
    if (s->provider == AUTH_SMS_FILE && s->path == NULL)
        return refuse(st, "sms.provider %s needs sms.path", provider);
    if (s->provider == AUTH_SMS_CONSOLE && !st->dev)
        kr_log(st->ctx, KR_LOG_WARN, "sms.provider console writes every code to the log: use it in development only");
    if (s->provider != AUTH_SMS_HTTP)
        return KR_OK;
    if (s->url == NULL)
        return refuse(st, "sms.provider %s needs sms.url", provider);
    const char *hname = str(sms, "auth_header"), *henv = str(sms, "auth_env");
    if ((hname == NULL) != (henv == NULL))
        return refuse(st, "sms.auth_header and sms.auth_env must be set together");
    if (henv != NULL) {
        const char *val = getenv(henv);
        if (val == NULL || *val == '\0' || strpbrk(val, "\r\n") != NULL)
            return refuse(st, "sms.auth_env: $%s is unset, empty or holds a line break", henv);
        if ((s->auth_header = header_line(hname, val)) == NULL)
            return KR_ENOMEM;
    }
    if ((s->content_type_header = header_line("Content-Type", str(sms, "content_type"))) == NULL)
        return KR_ENOMEM;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return refuse(st, "sms: libcurl does not initialise");
    s->curl_ready = 1;
    return KR_OK;
}

/* The secretbox key: from sms.key_env when set (so a worker-only host can
 * hold it without the JWT secret's power), else derived from the JWT
 * secret. */
static int derive_keys(auth_state *st, const json_t *sms)
{
    const char *var = str(sms, "key_env");
    const char *val = var != NULL ? getenv(var) : NULL;
    if (var != NULL && (val == NULL || strlen(val) < SECRET_MIN) && !st->dev)
        return refuse(st, "sms.key_env: $%s must hold a secret of at least 32 bytes", var);
    int own = val != NULL && strlen(val) >= SECRET_MIN;
    if (auth_keys_derive(st, st->secret, st->secret_len, own ? (const unsigned char *)val : NULL,
                         own ? strlen(val) : 0) != 0)
        return refuse(st, "cannot derive keys");
    return KR_OK;
}

static int read_admins(auth_state *st, const json_t *admins)
{
    st->nadmins = json_array_size(admins);
    st->admins = calloc(st->nadmins + 1, sizeof(*st->admins));
    if (st->admins == NULL)
        return KR_ENOMEM;
    size_t i;
    const json_t *v;
    json_array_foreach(admins, i, v)
    {
        const char *why;
        if (auth_phone_normalize(json_string_value(v), st->otp.countries, st->admins[i], &why) != AUTH_PHONE_OK) {
            return refuse(st, "admins[%zu]: \"%s\" is not an allowed phone number (%s)", i, json_string_value(v),
                          why != NULL ? why : "not E.164");
        }
    }
    return KR_OK;
}

static int take_handles(auth_state *st)
{
    st->db = kr_ctx_db(st->ctx);
    st->redis = kr_ctx_redis(st->ctx);
    st->queue = kr_ctx_queue(st->ctx);
    if (kr_ctx_has_role(st->ctx, "http")) {
        if (st->db == NULL || st->redis == NULL || st->queue == NULL)
            return refuse(st, "auth needs db:, redis: and queue: in the config");
    } else if (kr_ctx_has_role(st->ctx, "worker") && st->queue == NULL) {
        return refuse(st, "auth's otp consumer needs queue: in the config");
    }
    if (st->db != NULL) {
        st->users = kr_db_coll(st->db, "users");
        st->sessions = kr_db_coll(st->db, "auth_sessions");
        if (st->users == NULL || st->sessions == NULL)
            return KR_EINTERNAL;
    }
    return KR_OK;
}

static void free_state(auth_state *st)
{
    if (st == NULL)
        return;
    if (st->secret != NULL)
        sodium_memzero(st->secret, st->secret_len);
    free(st->secret);
    free(st->otp.countries);
    free(st->admins);
    if (st->sms.auth_header != NULL)
        sodium_memzero(st->sms.auth_header, strlen(st->sms.auth_header));
    free(st->sms.auth_header);
    free(st->sms.content_type_header);
    if (st->sms.curl_ready)
        curl_global_cleanup();
    sodium_memzero(st, sizeof(*st));
    free(st);
}

static int setup(auth_state *st)
{
    const json_t *cfg = kr_ctx_config(st->ctx);
    st->dev = json_is_true(obj(cfg, "dev"));
    st->prefix = str(cfg, "redis_prefix");
    int rc;
    if ((rc = take_handles(st)) != KR_OK || (rc = read_jwt(st, obj(cfg, "jwt"))) != KR_OK ||
        (rc = read_otp(st, obj(cfg, "otp"))) != KR_OK || (rc = read_sms(st, obj(cfg, "sms"))) != KR_OK ||
        (rc = derive_keys(st, obj(cfg, "sms"))) != KR_OK || (rc = read_admins(st, obj(cfg, "admins"))) != KR_OK)
        return rc;
    st->m_otp_sent = kr_metrics_counter(st->ctx, "auth_otp_sent_total", "OTP codes queued for sending", NULL);
    st->m_otp_limited =
        kr_metrics_counter(st->ctx, "auth_otp_rate_limited_total", "send-otp requests refused by a limit", NULL);
    st->m_otp_invalid =
        kr_metrics_counter(st->ctx, "auth_otp_invalid_total", "verify-otp answers of otp_invalid", NULL);
    st->m_logins = kr_metrics_counter(st->ctx, "auth_logins_total", "successful OTP logins", NULL);
    st->m_refresh_reuse =
        kr_metrics_counter(st->ctx, "auth_refresh_reuse_total", "refresh families revoked for token reuse", NULL);
    if ((rc = auth_routes_add(st->ctx, st)) < 0 || (rc = kr_authenticator_set(st->ctx, auth_authenticate, st)) < 0 ||
        (rc = kr_queue_consume(st->ctx, "otp", st->sms.concurrency, auth_sms_consume, st)) < 0 ||
        (st->db != NULL && (rc = kr_queue_consume(st->ctx, "auth-sweep", 1, auth_sweep_consume, st)) < 0) ||
        (rc = auth_cli_add(st->ctx, st)) < 0)
        return rc;
    return KR_OK;
}

static int init(kr_plugin_ctx *ctx)
{
    if (sodium_init() < 0) {
        kr_log(ctx, KR_LOG_ERROR, "libsodium does not initialise");
        return KR_EINTERNAL;
    }
    auth_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return KR_ENOMEM;
    st->ctx = ctx;
    st->clock = auth_realtime_ms;
    int rc = setup(st);
    if (rc != KR_OK) {
        free_state(st);
        return rc;
    }
    kr_ctx_set_state(ctx, st);
    return KR_OK;
}

static int start(kr_plugin_ctx *ctx)
{
    auth_state *st = kr_ctx_state(ctx);
    /* Without its unique index two first logins could make two users of
     * one phone: better not to serve at all. */
    if (kr_ctx_has_role(ctx, "http")) {
        int rc = auth_users_indexes(st);
        if (rc != KR_OK) {
            kr_log(ctx, KR_LOG_ERROR, "cannot create the users.phone unique index: %s (%s)", kr_strerror(rc),
                   kr_errmsg(st->db));
            return rc;
        }
    }
    /* Every worker (re)starts the sweep chain; a lost chain only delays
     * the deletion of dead families. */
    if (kr_ctx_has_role(ctx, "worker") && st->db != NULL && auth_sweep_schedule(st) != KR_OK)
        kr_log(ctx, KR_LOG_WARN, "cannot schedule the session sweep: %s", kr_errmsg(st->queue));
    return KR_OK;
}

static void fini(kr_plugin_ctx *ctx)
{
    free_state(kr_ctx_state(ctx));
}

static const kr_plugin descriptor = {
    KR_PLUGIN_HEADER, .name = "auth", .version = "1.0.0", .config_schema = schema,
    .init = init,     .start = start, .fini = fini,
};

__attribute__((visibility("default"))) const kr_plugin *kr_plugin_entry(void)
{
    return &descriptor;
}
