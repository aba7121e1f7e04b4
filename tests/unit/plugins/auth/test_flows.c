/* auth.so end to end through the fake host: send-otp and its limits, the
 * queued SMS, verify-otp and its attempts, tokens, refresh rotation and
 * reuse, logout, the profile, config refusals, and dependency failures.
 * The plugin's clock is pointed at the fake host's, so Redis TTLs, rate
 * windows and token lifetimes all move with kr_fakehost_advance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"
#include "kirana/fakehost.h"

#define SECRET "a-test-secret-that-is-longer-than-32-bytes"
#define PHONE "+919876543210"
#define ADMIN "+919000000001"

const kr_plugin *kr_plugin_entry(void);

typedef struct fx {
    kr_fakehost *fh;
    kr_plugin_ctx *ctx;
    auth_state *st;
    char dir[64];
    char file[96];
    kr_fake_response r;
} fx;

static int64_t fake_clock(void *udata)
{
    return kr_fakehost_now_ms(udata);
}

/* Loads auth with the file provider and `extra` (JSON merged into the
 * config; may be NULL). */
static kr_plugin_ctx *load(fx *f, const char *extra)
{
    json_t *cfg = json_pack("{s:{s:s, s:s}, s:[s], s:{s:[s, s]}}", "sms", "provider", "file", "path", f->file, "admins",
                            ADMIN, "otp", "countries", "91", "44");
    if (extra != NULL) {
        json_t *e = json_loads(extra, 0, NULL);
        assert_non_null(e);
        json_object_update_recursive(cfg, e);
        json_decref(e);
    }
    f->ctx = kr_fakehost_load(f->fh, kr_plugin_entry(), "/auth", cfg);
    json_decref(cfg);
    if (f->ctx != NULL) {
        f->st = kr_ctx_state(f->ctx);
        f->st->clock = fake_clock;
        f->st->clock_udata = f->fh;
    }
    return f->ctx;
}

static int setup_bare(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/auth-unit-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->file, sizeof(f->file), "%s/sms.jsonl", f->dir);
    setenv("KIRANA_JWT_SECRET", SECRET, 1);
    f->fh = kr_fakehost_new();
    *state = f;
    return 0;
}

static int setup(void **state)
{
    setup_bare(state);
    fx *f = *state;
    if (load(f, NULL) == NULL) {
        fprintf(stderr, "load: %s\n", kr_fakehost_error(f->fh));
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    kr_fake_response_free(&f->r);
    kr_fakehost_free(f->fh);
    unlink(f->file);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* --- helpers --- */

static int call(fx *f, const char *method, const char *path, const char *bearer, const char *body)
{
    kr_fake_response_free(&f->r);
    char auth[4200];
    const char *headers[] = {auth, NULL};
    if (bearer != NULL)
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
    return kr_fakehost_request(f->fh, method, path, bearer != NULL ? headers : NULL, body, NULL, &f->r);
}

static int send_otp(fx *f, const char *phone)
{
    char body[128];
    snprintf(body, sizeof(body), "{\"phone\": \"%s\"}", phone);
    return call(f, "POST", "/auth/send-otp", NULL, body);
}

static const char *problem_code(const fx *f)
{
    return json_string_value(json_object_get(f->r.json, "code"));
}

/* The last code the file provider wrote for phone, after running the
 * queue; "" when none. */
static void last_code(fx *f, const char *phone, char code[16])
{
    kr_fakehost_drain(f->fh, "otp");
    code[0] = '\0';
    FILE *fp = fopen(f->file, "r");
    if (fp == NULL)
        return;
    char line[256];
    while (fgets(line, sizeof(line), fp) != NULL) {
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        if (strcmp(json_string_value(json_object_get(j, "phone")), phone) == 0)
            snprintf(code, 16, "%s", json_string_value(json_object_get(j, "code")));
        json_decref(j);
    }
    fclose(fp);
}

static int verify(fx *f, const char *phone, const char *code)
{
    char body[160];
    snprintf(body, sizeof(body), "{\"phone\": \"%s\", \"code\": \"%s\"}", phone, code);
    return call(f, "POST", "/auth/verify-otp", NULL, body);
}

typedef struct tokens {
    char access[2048];
    char refresh[128];
    char user_id[64];
} tokens;

static void take_tokens(fx *f, tokens *t)
{
    snprintf(t->access, sizeof(t->access), "%s", json_string_value(json_object_get(f->r.json, "access_token")));
    snprintf(t->refresh, sizeof(t->refresh), "%s", json_string_value(json_object_get(f->r.json, "refresh_token")));
    snprintf(t->user_id, sizeof(t->user_id), "%s",
             json_string_value(json_object_get(json_object_get(f->r.json, "user"), "id")));
}

static void login(fx *f, const char *phone, tokens *t)
{
    assert_int_equal(send_otp(f, phone), 202);
    char code[16];
    last_code(f, phone, code);
    assert_int_equal(strlen(code), 6);
    assert_int_equal(verify(f, phone, code), 200);
    take_tokens(f, t);
}

static int refresh(fx *f, const char *token)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"refresh_token\": \"%s\"}", token);
    return call(f, "POST", "/auth/refresh", NULL, body);
}

static const char *resp_header(fx *f, const char *name)
{
    return kr_fake_response_header(&f->r, name);
}

/* A code that is not `code`. */
static void wrong_of(const char *code, char wrong[16])
{
    snprintf(wrong, 16, "%s", code);
    wrong[0] = wrong[0] == '9' ? '0' : (char)(wrong[0] + 1);
}

static long long zcard(fx *f, const char *key)
{
    kr_redis_reply *rep = NULL;
    assert_int_equal(kr_redis_command(kr_fakehost_redis(f->fh), &rep, "ZCARD", key, (char *)NULL), 0);
    long long n = rep->integer;
    kr_redis_reply_free(rep);
    return n;
}

/* --- send-otp --- */

static void test_send_otp_queues_sealed_code(void **state)
{
    fx *f = *state;
    assert_int_equal(send_otp(f, "+91 98765 43210"), 202);
    assert_int_equal(json_integer_value(json_object_get(f->r.json, "expires_in")), 300);
    assert_int_equal(json_integer_value(json_object_get(f->r.json, "retry_after")), 60);
    assert_int_equal(kr_fakehost_jobs(f->fh, "otp"), 1);

    json_t *jobs = kr_fakehost_job_list(f->fh, "otp");
    json_t *job = json_array_get(jobs, 0);
    json_t *data = json_object_get(job, "data"), *opts = json_object_get(job, "opts");
    assert_string_equal(json_string_value(json_object_get(data, "phone")), PHONE);
    assert_null(json_object_get(data, "code"));
    assert_true(json_is_true(json_object_get(opts, "removeOnComplete")));
    assert_true(json_is_true(json_object_get(opts, "removeOnFail")));
    assert_int_equal(json_integer_value(json_object_get(opts, "attempts")), 5);
    assert_string_equal(json_string_value(json_object_get(json_object_get(opts, "backoff"), "type")), "exponential");
    char *dump = json_dumps(data, 0);

    /* Redis holds a keyed hash, never the code */
    kr_redis_reply *rep = NULL;
    assert_int_equal(kr_redis_command(kr_fakehost_redis(f->fh), &rep, "HGET", "auth:otp:" PHONE, "h", (char *)NULL), 0);
    assert_int_equal(rep->type, KR_REDIS_STRING);
    assert_int_equal(rep->len, 64);
    char hash[65];
    snprintf(hash, sizeof(hash), "%s", rep->str);
    kr_redis_reply_free(rep);

    char code[16];
    last_code(f, PHONE, code);
    assert_int_equal(strlen(code), 6);
    assert_null(strstr(hash, code));
    assert_null(strstr(dump, code));
    free(dump);
    json_decref(jobs);
    /* the job is removed when done */
    assert_int_equal(kr_fakehost_jobs(f->fh, "otp"), 0);
    assert_int_equal(json_array_size(jobs = kr_fakehost_job_list(f->fh, "otp")), 0);
    json_decref(jobs);
    /* the file provider never logs the code */
    assert_int_equal(kr_fakehost_log_count(f->fh, KR_LOG_DEBUG, code), 0);
}

static void test_send_otp_validation(void **state)
{
    fx *f = *state;
    assert_int_equal(send_otp(f, "+1 415 555 0123"), 400);
    assert_string_equal(problem_code(f), "phone_not_allowed");
    assert_int_equal(send_otp(f, "98765 43210"), 400);
    assert_string_equal(problem_code(f), "validation_failed");
    json_t *e = json_array_get(json_object_get(f->r.json, "errors"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "field")), "phone");
    assert_int_equal(call(f, "POST", "/auth/send-otp", NULL, "{}"), 400);
    assert_string_equal(problem_code(f), "validation_failed");
    assert_int_equal(call(f, "POST", "/auth/send-otp", NULL, "{\"phone\": 919876543210}"), 400);
    assert_int_equal(call(f, "POST", "/auth/send-otp", NULL, "{\"phone\": \"" PHONE "\", \"x\": 1}"), 400);
    e = json_array_get(json_object_get(f->r.json, "errors"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "field")), "x");
    assert_int_equal(call(f, "POST", "/auth/send-otp", NULL, "[1]"), 400);
    assert_int_equal(call(f, "POST", "/auth/send-otp", NULL, "{"), 400);
    assert_int_equal(kr_fakehost_jobs(f->fh, "otp"), 0);
}

static void test_resend_cooldown(void **state)
{
    fx *f = *state;
    assert_int_equal(send_otp(f, PHONE), 202);
    kr_fakehost_advance(f->fh, 20 * 1000);
    assert_int_equal(send_otp(f, PHONE), 429);
    assert_string_equal(problem_code(f), "rate_limited");
    assert_string_equal(resp_header(f, "retry-after"), "40");
    assert_int_equal(json_integer_value(json_object_get(f->r.json, "retry_after")), 40);
    /* the refused send took nothing from the hourly windows */
    assert_int_equal(zcard(f, "auth:rl:phone:h:" PHONE), 1);
    assert_int_equal(zcard(f, "auth:rl:ip:h:127.0.0.1"), 1);
    kr_fakehost_advance(f->fh, 41 * 1000);
    assert_int_equal(send_otp(f, PHONE), 202);
    /* a new code replaces the old one: one live code per phone */
    assert_int_equal(kr_fakehost_jobs(f->fh, "otp"), 2);
}

static void test_per_phone_hour_and_day(void **state)
{
    fx *f = *state;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(send_otp(f, PHONE), 202);
        kr_fakehost_advance(f->fh, 61 * 1000);
    }
    /* five sends in the last 305 s: the sixth waits for the first to be an
     * hour old */
    assert_int_equal(send_otp(f, PHONE), 429);
    assert_string_equal(resp_header(f, "retry-after"), "3295");
    kr_fakehost_advance(f->fh, 3295 * 1000);
    assert_int_equal(send_otp(f, PHONE), 202);
    for (int i = 0; i < 4; i++) {
        kr_fakehost_advance(f->fh, 61 * 1000);
        assert_int_equal(send_otp(f, PHONE), 202);
    }
    /* ten in the day now; an hour later the hourly window is free, the
     * daily one is not */
    kr_fakehost_advance(f->fh, 3600 * 1000);
    assert_int_equal(send_otp(f, PHONE), 429);
    long retry = atol(resp_header(f, "retry-after"));
    assert_true(retry > 20 * 3600 && retry < 86400);
    kr_fakehost_advance(f->fh, (int64_t)retry * 1000);
    assert_int_equal(send_otp(f, PHONE), 202);
}

static void test_per_ip_hour(void **state)
{
    fx *f = *state;
    char phone[32];
    for (int i = 0; i < 20; i++) {
        snprintf(phone, sizeof(phone), "+9198000000%02d", i);
        assert_int_equal(send_otp(f, phone), 202);
    }
    assert_int_equal(send_otp(f, "+919800000099"), 429);
    assert_string_equal(resp_header(f, "retry-after"), "3600");
    /* the refused phone got no cool-down: another IP can send to it now */
    kr_fakehost_set_client_ip(f->fh, "2001:db8::1");
    assert_int_equal(send_otp(f, "+919800000099"), 202);
}

/* --- verify-otp --- */

static void test_verify_creates_user(void **state)
{
    fx *f = *state;
    tokens t;
    login(f, PHONE, &t);
    json_t *j = f->r.json;
    assert_string_equal(json_string_value(json_object_get(j, "token_type")), "Bearer");
    assert_int_equal(json_integer_value(json_object_get(j, "expires_in")), 900);
    json_t *user = json_object_get(j, "user");
    assert_string_equal(json_string_value(json_object_get(user, "phone")), PHONE);
    assert_true(json_is_null(json_object_get(user, "name")));
    assert_int_equal(json_object_size(user), 3);

    auth_claims c;
    const char *why;
    assert_int_equal(auth_jwt_verify(&f->st->jwt, t.access, (long)(kr_fakehost_now_ms(f->fh) / 1000), &c, &why), 0);
    assert_string_equal(c.sub, t.user_id);
    assert_string_equal(c.role, "user");
    /* refresh token = sid "." secret; the DB keeps only a hash */
    assert_memory_equal(t.refresh, c.sid, AUTH_ID_LEN);
    json_t *doc = NULL;
    json_t *filter = json_pack("{s:s}", "_id", c.sid);
    assert_int_equal(kr_db_find_one(kr_db_coll(kr_fakehost_db(f->fh), "auth_sessions"), filter, NULL, NULL, &doc), 0);
    assert_string_equal(json_string_value(json_object_get(doc, "user_id")), t.user_id);
    char *dump = json_dumps(doc, 0);
    assert_null(strstr(dump, strchr(t.refresh, '.') + 1));
    free(dump);
    json_decref(doc);
    json_decref(filter);

    /* a second login finds the same user */
    tokens t2;
    kr_fakehost_advance(f->fh, 61 * 1000);
    login(f, PHONE, &t2);
    assert_string_equal(t2.user_id, t.user_id);
    int64_t n;
    assert_int_equal(kr_db_count(kr_db_coll(kr_fakehost_db(f->fh), "users"), NULL, &n), 0);
    assert_int_equal(n, 1);
}

static void test_code_single_use(void **state)
{
    fx *f = *state;
    assert_int_equal(send_otp(f, PHONE), 202);
    char code[16];
    last_code(f, PHONE, code);
    assert_int_equal(verify(f, PHONE, code), 200);
    assert_int_equal(verify(f, PHONE, code), 401);
    assert_string_equal(problem_code(f), "otp_invalid");
}

static void test_wrong_expired_killed_same_answer(void **state)
{
    fx *f = *state;
    assert_int_equal(send_otp(f, PHONE), 202);
    char code[16], wrong[16];
    last_code(f, PHONE, code);
    wrong_of(code, wrong);
    assert_int_equal(verify(f, PHONE, wrong), 401);
    char *wrong_body = strdup(f->r.body);
    assert_string_equal(problem_code(f), "otp_invalid");

    /* never sent */
    assert_int_equal(verify(f, "+919876500000", "123456"), 401);
    assert_string_equal(f->r.body, wrong_body);

    /* expired: gone after 300 s */
    kr_fakehost_advance(f->fh, 301 * 1000);
    assert_int_equal(verify(f, PHONE, code), 401);
    assert_string_equal(f->r.body, wrong_body);

    /* killed by five wrong tries: the right code no longer works */
    kr_fakehost_advance(f->fh, 60 * 1000);
    assert_int_equal(send_otp(f, PHONE), 202);
    last_code(f, PHONE, code);
    wrong_of(code, wrong);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(verify(f, PHONE, wrong), 401);
        assert_string_equal(f->r.body, wrong_body);
    }
    assert_int_equal(verify(f, PHONE, code), 401);
    assert_string_equal(f->r.body, wrong_body);
    free(wrong_body);
}

static void test_four_wrong_then_right(void **state)
{
    fx *f = *state;
    assert_int_equal(send_otp(f, PHONE), 202);
    char code[16], wrong[16];
    last_code(f, PHONE, code);
    wrong_of(code, wrong);
    for (int i = 0; i < 4; i++)
        assert_int_equal(verify(f, PHONE, wrong), 401);
    assert_int_equal(verify(f, PHONE, code), 200);
}

static void test_new_code_resets_tries(void **state)
{
    fx *f = *state;
    assert_int_equal(send_otp(f, PHONE), 202);
    char code[16], old[16], wrong[16];
    last_code(f, PHONE, old);
    wrong_of(old, wrong);
    for (int i = 0; i < 4; i++)
        assert_int_equal(verify(f, PHONE, wrong), 401);
    kr_fakehost_advance(f->fh, 60 * 1000);
    assert_int_equal(send_otp(f, PHONE), 202);
    last_code(f, PHONE, code);
    if (strcmp(old, code) != 0)
        assert_int_equal(verify(f, PHONE, old), 401); /* the old code died with the resend */
    wrong_of(code, wrong);
    for (int i = 0; i < 3; i++)
        assert_int_equal(verify(f, PHONE, wrong), 401);
    assert_int_equal(verify(f, PHONE, code), 200);
}

static void test_verify_validation(void **state)
{
    fx *f = *state;
    assert_int_equal(verify(f, PHONE, "12345"), 400);
    assert_string_equal(problem_code(f), "validation_failed");
    assert_int_equal(verify(f, PHONE, "12345a"), 400);
    assert_int_equal(verify(f, "+14155550123", "123456"), 400);
    assert_string_equal(problem_code(f), "phone_not_allowed");
    assert_int_equal(call(f, "POST", "/auth/verify-otp", NULL, "{\"phone\": \"" PHONE "\"}"), 400);
    json_t *e = json_array_get(json_object_get(f->r.json, "errors"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "field")), "code");
}

/* --- tokens, the authenticator, refresh, logout --- */

static void test_me(void **state)
{
    fx *f = *state;
    tokens t;
    login(f, PHONE, &t);
    assert_int_equal(call(f, "GET", "/auth/me", t.access, NULL), 200);
    assert_string_equal(json_string_value(json_object_get(f->r.json, "id")), t.user_id);
    assert_string_equal(json_string_value(json_object_get(f->r.json, "phone")), PHONE);

    assert_int_equal(call(f, "PATCH", "/auth/me", t.access, "{\"name\": \"  Asha Rao \"}"), 200);
    assert_string_equal(json_string_value(json_object_get(f->r.json, "name")), "Asha Rao");
    assert_int_equal(call(f, "GET", "/auth/me", t.access, NULL), 200);
    assert_string_equal(json_string_value(json_object_get(f->r.json, "name")), "Asha Rao");
    /* 64 characters of Devanagari are fine, 65 are not */
    char name[1024] = "{\"name\": \"";
    for (int i = 0; i < 64; i++)
        strcat(name, "\xe0\xa4\x85");
    strcat(name, "\"}");
    assert_int_equal(call(f, "PATCH", "/auth/me", t.access, name), 200);
    name[strlen(name) - 2] = '\0';
    strcat(name, "x\"}");
    assert_int_equal(call(f, "PATCH", "/auth/me", t.access, name), 400);

    assert_int_equal(call(f, "PATCH", "/auth/me", t.access, "{\"phone\": \"+919999999999\"}"), 400);
    assert_string_equal(problem_code(f), "validation_failed");
    assert_int_equal(call(f, "PATCH", "/auth/me", t.access, "{\"name\": \"x\", \"role\": \"admin\"}"), 400);
    json_t *e = json_array_get(json_object_get(f->r.json, "errors"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "field")), "role");
    assert_int_equal(call(f, "PATCH", "/auth/me", t.access, "{\"name\": \"   \"}"), 400);
    assert_int_equal(call(f, "PATCH", "/auth/me", t.access, "{\"name\": \"a\\u0007b\"}"), 400);
    assert_int_equal(call(f, "PATCH", "/auth/me", t.access, "{\"name\": 5}"), 400);
    assert_int_equal(call(f, "PATCH", "/auth/me", t.access, "{\"name\": null}"), 200);
    assert_true(json_is_null(json_object_get(f->r.json, "name")));
    assert_int_equal(call(f, "GET", "/auth/me", t.access, NULL), 200);
    assert_string_equal(json_string_value(json_object_get(f->r.json, "phone")), PHONE);
}

static void test_authenticator_refusals(void **state)
{
    fx *f = *state;
    tokens t;
    login(f, PHONE, &t);
    assert_int_equal(call(f, "GET", "/auth/me", NULL, NULL), 401);
    assert_int_equal(call(f, "GET", "/auth/me", "garbage", NULL), 401);
    /* the scheme is case-insensitive, the token is not */
    kr_fake_response_free(&f->r);
    char h[2200];
    snprintf(h, sizeof(h), "authorization: bearer %s", t.access);
    const char *headers[] = {h, NULL};
    assert_int_equal(kr_fakehost_request(f->fh, "GET", "/auth/me", headers, NULL, NULL, &f->r), 200);
    snprintf(h, sizeof(h), "Authorization: Basic %s", t.access);
    kr_fake_response_free(&f->r);
    assert_int_equal(kr_fakehost_request(f->fh, "GET", "/auth/me", headers, NULL, NULL, &f->r), 401);

    /* access tokens expire after 15 min (+30 s leeway) */
    kr_fakehost_advance(f->fh, 929 * 1000);
    assert_int_equal(call(f, "GET", "/auth/me", t.access, NULL), 200);
    kr_fakehost_advance(f->fh, 1000);
    assert_int_equal(call(f, "GET", "/auth/me", t.access, NULL), 401);
}

static void test_refresh_rotates_and_reuse_revokes(void **state)
{
    fx *f = *state;
    tokens t, t2, t3;
    login(f, PHONE, &t);
    assert_int_equal(refresh(f, t.refresh), 200);
    take_tokens(f, &t2);
    assert_string_not_equal(t2.refresh, t.refresh);
    assert_string_not_equal(t2.access, t.access);
    assert_string_equal(t2.user_id, t.user_id);
    assert_non_null(json_object_get(f->r.json, "expires_in"));
    /* same family */
    assert_memory_equal(t2.refresh, t.refresh, AUTH_ID_LEN);
    assert_int_equal(refresh(f, t2.refresh), 200);
    take_tokens(f, &t3);
    assert_int_equal(call(f, "GET", "/auth/me", t3.access, NULL), 200);

    /* replaying the first token: refused, and the whole family dies */
    assert_int_equal(refresh(f, t.refresh), 401);
    assert_string_equal(problem_code(f), "refresh_invalid");
    char *reused = strdup(f->r.body);
    assert_int_equal(refresh(f, t3.refresh), 401);
    assert_string_equal(f->r.body, reused);
    assert_int_equal(call(f, "GET", "/auth/me", t3.access, NULL), 401);
    assert_int_equal(call(f, "GET", "/auth/me", t.access, NULL), 401);
    assert_int_equal(kr_fakehost_counter(f->fh, "auth_refresh_reuse_total", NULL), 1);
    free(reused);

    /* garbage tokens */
    assert_int_equal(refresh(f, "nope"), 401);
    char forged[128];
    snprintf(forged, sizeof(forged), "%.*s.%s", AUTH_ID_LEN, t.refresh, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_int_equal(refresh(f, forged), 401);
    assert_int_equal(call(f, "POST", "/auth/refresh", NULL, "{\"refresh_token\": 1}"), 400);
    assert_int_equal(call(f, "POST", "/auth/refresh", NULL, "{}"), 400);

    /* other families of the same user are untouched */
    tokens other;
    kr_fakehost_advance(f->fh, 61 * 1000);
    login(f, PHONE, &other);
    assert_int_equal(refresh(f, other.refresh), 200);
}

static void test_refresh_lifetimes(void **state)
{
    fx *f = *state;
    tokens t;
    login(f, PHONE, &t);
    /* idle: 7 days without a refresh ends the family */
    kr_fakehost_advance(f->fh, 7LL * 86400 * 1000);
    assert_int_equal(refresh(f, t.refresh), 401);

    /* absolute: refreshing every 6 days still ends at 30 days */
    kr_fakehost_advance(f->fh, 61 * 1000);
    login(f, PHONE, &t);
    for (int i = 0; i < 4; i++) {
        kr_fakehost_advance(f->fh, 6LL * 86400 * 1000);
        assert_int_equal(refresh(f, t.refresh), 200);
        take_tokens(f, &t);
    }
    kr_fakehost_advance(f->fh, 6LL * 86400 * 1000);
    assert_int_equal(refresh(f, t.refresh), 401);
}

static void test_logout(void **state)
{
    fx *f = *state;
    tokens t, other;
    login(f, PHONE, &t);
    kr_fakehost_advance(f->fh, 61 * 1000);
    login(f, PHONE, &other);
    assert_int_equal(call(f, "POST", "/auth/logout", t.access, NULL), 204);
    assert_int_equal(f->r.body_len, 0);
    assert_int_equal(call(f, "GET", "/auth/me", t.access, NULL), 401);
    assert_int_equal(refresh(f, t.refresh), 401);
    assert_int_equal(call(f, "POST", "/auth/logout", t.access, NULL), 401);
    /* only that family: the other login still works */
    assert_int_equal(call(f, "GET", "/auth/me", other.access, NULL), 200);
    assert_int_equal(call(f, "POST", "/auth/logout", NULL, NULL), 401);

    /* the deny entries outlive any access token of the family, no more */
    kr_redis_reply *rep = NULL;
    auth_claims c;
    const char *why;
    assert_int_equal(auth_jwt_verify(&f->st->jwt, t.access, (long)(kr_fakehost_now_ms(f->fh) / 1000), &c, &why), 0);
    char key[128];
    snprintf(key, sizeof(key), "auth:deny:jti:%s", c.jti);
    assert_int_equal(kr_redis_command(kr_fakehost_redis(f->fh), &rep, "TTL", key, (char *)NULL), 0);
    assert_int_equal(rep->integer, 930);
    kr_redis_reply_free(rep);
}

static void test_config_admin(void **state)
{
    fx *f = *state;
    tokens t;
    login(f, ADMIN, &t);
    auth_claims c;
    const char *why;
    assert_int_equal(auth_jwt_verify(&f->st->jwt, t.access, (long)(kr_fakehost_now_ms(f->fh) / 1000), &c, &why), 0);
    assert_string_equal(c.role, "admin");
    /* a user's role comes from the user document at each refresh */
    json_t *filter = json_pack("{s:s}", "_id", t.user_id);
    json_t *update = json_pack("{s:{s:s}}", "$set", "role", "user");
    assert_int_equal(kr_db_update_one(kr_db_coll(kr_fakehost_db(f->fh), "users"), filter, update, 0, NULL), 0);
    assert_int_equal(refresh(f, t.refresh), 200);
    take_tokens(f, &t);
    assert_int_equal(auth_jwt_verify(&f->st->jwt, t.access, (long)(kr_fakehost_now_ms(f->fh) / 1000), &c, &why), 0);
    assert_string_equal(c.role, "user");
    json_decref(filter);
    json_decref(update);
}

/* --- the consumer --- */

static void test_consumer_skips_expired_and_refuses_forged(void **state)
{
    fx *f = *state;
    assert_int_equal(send_otp(f, PHONE), 202);
    kr_fakehost_advance(f->fh, 301 * 1000);
    char code[16];
    last_code(f, PHONE, code);
    assert_string_equal(code, "");
    assert_int_equal(kr_fakehost_log_count(f->fh, KR_LOG_INFO, "expired while queued"), 1);

    json_t *data = json_pack("{s:s, s:s, s:I}", "phone", PHONE, "box", "AAAA", "expires_at",
                             (json_int_t)(kr_fakehost_now_ms(f->fh) + 60000));
    json_t *opts = json_pack("{s:i, s:b}", "attempts", 3, "removeOnFail", 0);
    char *id = NULL;
    assert_int_equal(kr_queue_add(kr_fakehost_queue(f->fh), "otp", "send", data, opts, &id), 0);
    assert_int_equal(kr_fakehost_drain(f->fh, "otp"), 1); /* discarded: no retry */
    json_t *job = kr_fakehost_job(f->fh, "otp", id);
    assert_string_equal(json_string_value(json_object_get(job, "state")), "failed");
    assert_int_equal(json_integer_value(json_object_get(job, "attempts_made")), 1);
    json_decref(job);
    json_decref(data);
    json_decref(opts);
    free(id);
}

static void test_sweep_deletes_expired_families(void **state)
{
    fx *f = *state;
    kr_coll *sessions = kr_db_coll(kr_fakehost_db(f->fh), "auth_sessions");
    tokens t;
    login(f, PHONE, &t);
    /* scheduled at start for the next hour slot */
    assert_int_equal(kr_fakehost_jobs(f->fh, "auth-sweep"), 1);
    kr_fakehost_advance(f->fh, 3600 * 1000);
    assert_int_equal(kr_fakehost_run_jobs(f->fh, "auth-sweep"), 1);
    int64_t n;
    assert_int_equal(kr_db_count(sessions, NULL, &n), 0);
    assert_int_equal(n, 1); /* alive: kept */
    assert_int_equal(kr_fakehost_jobs(f->fh, "auth-sweep"), 1); /* the next slot */

    kr_fakehost_advance(f->fh, 30LL * 86400 * 1000);
    kr_fakehost_advance(f->fh, 61 * 1000);
    tokens fresh;
    login(f, PHONE, &fresh);
    assert_int_equal(kr_fakehost_run_jobs(f->fh, "auth-sweep"), 1);
    assert_int_equal(kr_db_count(sessions, NULL, &n), 0);
    assert_int_equal(n, 1); /* the expired family went, the fresh one stays */
    assert_int_equal(refresh(f, fresh.refresh), 200);

    /* a failed sweep is retried, and the chain goes on */
    kr_fakehost_advance(f->fh, 3600 * 1000);
    kr_fakehost_fail_db(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(kr_fakehost_run_jobs(f->fh, "auth-sweep"), 1);
    assert_true(kr_fakehost_jobs(f->fh, "auth-sweep") >= 1);
}

static void test_console_provider_logs_code(void **state)
{
    fx *f = *state;
    assert_non_null(load(f, "{\"sms\": {\"provider\": \"console\"}}"));
    assert_int_equal(send_otp(f, PHONE), 202);
    assert_int_equal(kr_fakehost_drain(f->fh, "otp"), 1);
    assert_int_equal(kr_fakehost_log_count(f->fh, KR_LOG_INFO, "OTP for " PHONE " is "), 1);
}

/* --- failures of Redis, the DB and the queue --- */

static void test_dependency_failures(void **state)
{
    fx *f = *state;
    tokens t;
    login(f, PHONE, &t);
    kr_fakehost_advance(f->fh, 61 * 1000);

    kr_fakehost_fail_redis(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(send_otp(f, PHONE), 503);
    kr_fakehost_fail_redis(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(verify(f, PHONE, "123456"), 503);
    kr_fakehost_fail_redis(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(call(f, "POST", "/auth/logout", t.access, NULL), 401); /* the fake host answers 401 */
    kr_fakehost_fail_redis(f->fh, 0, 0);

    /* the queue is down: 503, and the send is given back (no cool-down) */
    kr_fakehost_fail_queue(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(send_otp(f, PHONE), 503);
    assert_int_equal(zcard(f, "auth:rl:phone:h:" PHONE), 1);
    assert_int_equal(send_otp(f, PHONE), 202);

    char code[16];
    last_code(f, PHONE, code);
    kr_fakehost_fail_db(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(verify(f, PHONE, code), 503);
    kr_fakehost_fail_db(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(refresh(f, t.refresh), 503);
    kr_fakehost_fail_db(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(call(f, "GET", "/auth/me", t.access, NULL), 503);
    kr_fakehost_fail_db(f->fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(call(f, "POST", "/auth/logout", t.access, NULL), 503);
    kr_fakehost_fail_db(f->fh, 0, 0);
    /* a failed refresh did not rotate: the token still works */
    assert_int_equal(refresh(f, t.refresh), 200);
}

/* --- config --- */

static void expect_refused(fx *f, const char *extra, const char *log)
{
    kr_fakehost_logs_clear(f->fh);
    assert_null(load(f, extra));
    /* the reason is logged and also reaches the loader's refusal (kr_error) */
    if (kr_fakehost_log_count(f->fh, KR_LOG_ERROR, log) < 1)
        fail_msg("no error log with \"%s\" (%s)", log, kr_fakehost_error(f->fh));
    if (strstr(kr_fakehost_error(f->fh), log) == NULL)
        fail_msg("the refusal does not carry \"%s\": %s", log, kr_fakehost_error(f->fh));
}

static void test_config_refusals(void **state)
{
    fx *f = *state;
    unsetenv("KIRANA_JWT_SECRET");
    expect_refused(f, NULL, "$KIRANA_JWT_SECRET must hold a secret of at least 32 bytes");
    setenv("KIRANA_JWT_SECRET", "0123456789012345678901234567890", 1); /* 31 */
    expect_refused(f, NULL, "at least 32 bytes");
    setenv("MY_SECRET", SECRET, 1);
    expect_refused(f, "{\"jwt\": {\"secret_env\": \"OTHER_SECRET\"}}", "$OTHER_SECRET");
    expect_refused(f, "{\"otp\": {\"dev_reusable_codes\": true}, \"jwt\": {\"secret_env\": \"MY_SECRET\"}}",
                   "needs dev: true");
    expect_refused(f, "{\"sms\": {\"provider\": \"file\", \"path\": null}, \"jwt\": {\"secret_env\": \"MY_SECRET\"}}",
                   "needs sms.path");
    expect_refused(f, "{\"sms\": {\"provider\": \"http\"}, \"jwt\": {\"secret_env\": \"MY_SECRET\"}}", "needs sms.url");
    expect_refused(f,
                   "{\"sms\": {\"provider\": \"http\", \"url\": \"http://127.0.0.1:1/\", \"auth_header\": "
                   "\"Authorization\"}, \"jwt\": {\"secret_env\": \"MY_SECRET\"}}",
                   "must be set together");
    expect_refused(f,
                   "{\"sms\": {\"provider\": \"http\", \"url\": \"http://127.0.0.1:1/\", \"auth_header\": "
                   "\"Authorization\", \"auth_env\": \"NO_SUCH_VAR\"}, \"jwt\": {\"secret_env\": \"MY_SECRET\"}}",
                   "$NO_SUCH_VAR is unset");
    expect_refused(f, "{\"admins\": [\"+14155550123\"], \"jwt\": {\"secret_env\": \"MY_SECRET\"}}", "admins[0]");
    expect_refused(f, "{\"sms\": {\"key_env\": \"NO_BOX_KEY\"}, \"jwt\": {\"secret_env\": \"MY_SECRET\"}}",
                   "$NO_BOX_KEY");
    assert_non_null(load(f, "{\"jwt\": {\"secret_env\": \"MY_SECRET\"}}"));
}

static void test_config_dev(void **state)
{
    fx *f = *state;
    unsetenv("KIRANA_JWT_SECRET");
    assert_non_null(load(f, "{\"dev\": true}"));
    assert_int_equal(kr_fakehost_log_count(f->fh, KR_LOG_WARN, "random secret"), 1);
    tokens t;
    login(f, PHONE, &t);
    assert_int_equal(call(f, "GET", "/auth/me", t.access, NULL), 200);
}

static void test_config_defaults(void **state)
{
    fx *f = *state;
    const auth_state *st = f->st;
    assert_int_equal(st->jwt.access_ttl, 900);
    assert_int_equal(st->refresh_ttl, 2592000);
    assert_int_equal(st->refresh_idle_ttl, 604800);
    assert_string_equal(st->jwt.issuer, "kirana");
    assert_string_equal(st->jwt.audience, "kirana-app");
    assert_int_equal(st->otp.length, 6);
    assert_int_equal(st->otp.ttl, 300);
    assert_int_equal(st->otp.max_attempts, 5);
    assert_int_equal(st->otp.resend_after, 60);
    assert_int_equal(st->otp.per_phone_per_hour, 5);
    assert_int_equal(st->otp.per_phone_per_day, 10);
    assert_int_equal(st->otp.per_ip_per_hour, 20);
    assert_int_equal(st->sms.attempts, 5);
    assert_false(st->otp.reusable);
    /* the JWT key is the secret; the other keys are derived from it and
     * differ from each other */
    assert_int_equal(st->jwt.key_len, strlen(SECRET));
    assert_memory_not_equal(st->otp_key, st->refresh_key, AUTH_KEY_BYTES);
    assert_memory_not_equal(st->otp_key, st->box_key, AUTH_KEY_BYTES);
}

static void test_reusable_codes_dev_only_knob(void **state)
{
    fx *f = *state;
    assert_non_null(load(f, "{\"dev\": true, \"otp\": {\"dev_reusable_codes\": true, \"max_attempts\": 100}}"));
    assert_int_equal(send_otp(f, PHONE), 202);
    char code[16];
    last_code(f, PHONE, code);
    for (int i = 0; i < 10; i++)
        assert_int_equal(verify(f, PHONE, code), 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_send_otp_queues_sealed_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_otp_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resend_cooldown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_per_phone_hour_and_day, setup, teardown),
        cmocka_unit_test_setup_teardown(test_per_ip_hour, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_creates_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_code_single_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_expired_killed_same_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_four_wrong_then_right, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_code_resets_tries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_me, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authenticator_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_rotates_and_reuse_revokes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_lifetimes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_admin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consumer_skips_expired_and_refuses_forged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_deletes_expired_families, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_provider_logs_code, setup_bare, teardown),
        cmocka_unit_test_setup_teardown(test_dependency_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_refusals, setup_bare, teardown),
        cmocka_unit_test_setup_teardown(test_config_dev, setup_bare, teardown),
        cmocka_unit_test_setup_teardown(test_config_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reusable_codes_dev_only_knob, setup_bare, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
