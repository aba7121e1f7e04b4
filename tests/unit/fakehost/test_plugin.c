/* A small "notes" plugin, written here the way a third-party plugin would
 * be, exercised end to end through the fake host: routes, auth, config
 * defaults, DB, Redis, a queue consumer, logs, metrics and failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kirana/fakehost.h"

/* --- the plugin --- */

typedef struct notes {
    kr_coll *coll;
    kr_counter *created;
    kr_gauge *pending;
    json_int_t max_len;
    const char *queue;
} notes;

/* "Authorization: Bearer <user>:<role>" */
static int authenticate(kr_req *req, kr_principal *out, void *udata)
{
    (void)udata;
    const char *h = kr_req_header(req, "authorization");
    if (h == NULL || strncmp(h, "Bearer ", 7) != 0 || strchr(h, ':') == NULL)
        return KR_EAUTH;
    const char *colon = strchr(h, ':');
    char *user = kr_req_strdup(req, h + 7);
    user[colon - (h + 7)] = '\0';
    out->user_id = user;
    out->role = kr_req_strdup(req, colon + 1);
    return 0;
}

static int create_note(kr_req *req, void *udata)
{
    notes *n = udata;
    json_t *body;
    int rc = kr_req_json(req, &body);
    if (rc != 0)
        return rc;
    const char *text = json_string_value(json_object_get(body, "text"));
    json_t *errors = NULL;
    if (text == NULL)
        kr_invalid_add(&errors, "text", "required");
    else if ((json_int_t)strlen(text) > n->max_len)
        kr_invalid_add(&errors, "text", "too long");
    if (errors != NULL)
        return kr_reply_invalid(req, errors);
    json_t *doc = json_pack("{ss ss sb}", "owner", kr_req_principal(req)->user_id, "text", text, "indexed", 0);
    char *id = NULL;
    rc = kr_db_insert_one(n->coll, doc, &id);
    json_decref(doc);
    if (rc != 0)
        return rc;
    json_t *data = json_pack("{ss}", "note", id);
    rc = kr_queue_add(kr_ctx_queue(kr_req_ctx(req)), n->queue, "index", data, NULL, NULL);
    json_decref(data);
    kr_counter_add(n->created, 1);
    kr_gauge_add(n->pending, 1);
    kr_req_log(req, KR_LOG_INFO, "note %s created", id);
    kr_resp_header(req, "Location", kr_req_printf(req, "%s/notes/%s", kr_ctx_mount(kr_req_ctx(req)), id));
    json_t *out = json_pack("{ss ss}", "id", id, "text", text);
    free(id);
    if (rc != 0) {
        json_decref(out);
        return rc;
    }
    return kr_reply_json(req, 201, out);
}

static int list_notes(kr_req *req, void *udata)
{
    notes *n = udata;
    const char *lim = kr_req_query(req, "limit");
    int64_t limit = lim != NULL ? atoll(lim) : 20;
    if (limit < 1 || limit > 100)
        return kr_reply_problem(req, 400, "bad_limit", "limit must be 1..100", json_pack("{si}", "max", 100));
    json_t *f = json_pack("{ss}", "owner", kr_req_principal(req)->user_id);
    const char *q = kr_req_query(req, "q");
    if (q != NULL)
        json_object_set_new(f, "text", json_pack("{ss ss}", "$regex", q, "$options", "i"));
    json_t *sort = json_pack("{si}", "_id", -1), *proj = json_pack("{si si}", "text", 1, "indexed", 1), *items;
    int rc = kr_db_find(n->coll, f, sort, proj, 0, limit, &items);
    json_decref(f);
    json_decref(sort);
    json_decref(proj);
    if (rc != 0)
        return rc;
    return kr_reply_json(req, 200, json_pack("{so sn}", "items", items, "next_cursor"));
}

static int get_note(kr_req *req, void *udata)
{
    notes *n = udata;
    json_t *f = json_pack("{ss ss}", "_id", kr_req_param(req, "id"), "owner", kr_req_principal(req)->user_id), *doc;
    int rc = kr_db_find_one(n->coll, f, NULL, NULL, &doc);
    json_decref(f);
    if (rc != 0)
        return rc; /* others' notes are 404 too */
    return kr_reply_json(req, 200, doc);
}

static int delete_note(kr_req *req, void *udata)
{
    notes *n = udata;
    json_t *f = json_pack("{ss}", "_id", kr_req_param(req, "id"));
    int64_t deleted = 0;
    int rc = kr_db_delete_one(n->coll, f, &deleted);
    json_decref(f);
    if (rc != 0)
        return rc;
    return deleted == 1 ? kr_reply(req, 204, NULL, NULL, 0) : kr_reply_error(req, KR_ENOTFOUND, "no such note");
}

static int echo(kr_req *req, void *udata)
{
    (void)udata;
    const kr_principal *p = kr_req_principal(req);
    const char *text = kr_req_printf(req, "%s %s word=%s ip=%s who=%s", kr_req_method(req), kr_req_path(req),
                                     kr_req_param(req, "word"), kr_req_client_ip(req), p != NULL ? p->user_id : "-");
    return kr_reply(req, 200, "text/plain", text, strlen(text));
}

static int forgetful(kr_req *req, void *udata)
{
    (void)req;
    (void)udata;
    return 0; /* a bug: never answers */
}

static int conflicted(kr_req *req, void *udata)
{
    (void)req;
    (void)udata;
    return KR_ECONFLICT;
}

static int index_note(kr_job *job, void *udata)
{
    notes *n = udata;
    json_t *f = json_pack("{ss}", "_id", json_string_value(json_object_get(kr_job_data(job), "note")));
    json_t *u = json_pack("{s{sb}}", "$set", "indexed", 1);
    kr_update_result res;
    int rc = kr_db_update_one(n->coll, f, u, 0, &res);
    json_decref(f);
    json_decref(u);
    if (rc == 0) {
        kr_gauge_add(n->pending, -1);
        kr_job_set_result(job, json_pack("{sI}", "matched", (json_int_t)res.matched));
    }
    return rc;
}

static int ready(void *udata, char *msg, size_t msglen)
{
    int64_t count;
    int rc = kr_db_count(((notes *)udata)->coll, NULL, &count);
    if (rc != 0)
        snprintf(msg, msglen, "db: %s", kr_strerror(rc));
    return rc;
}

static int notes_init(kr_plugin_ctx *ctx)
{
    notes *n = calloc(1, sizeof(*n));
    kr_ctx_set_state(ctx, n);
    const json_t *cfg = kr_ctx_config(ctx);
    n->max_len = json_integer_value(json_object_get(cfg, "max_len"));
    n->queue = json_string_value(json_object_get(cfg, "queue"));
    n->coll = kr_db_coll(kr_ctx_db(ctx), "notes");
    n->created = kr_metrics_counter(ctx, "notes_created_total", "notes created", NULL);
    n->pending = kr_metrics_gauge(ctx, "notes_unindexed", "notes not yet indexed", "kind=\"text\"");
    int rc = kr_route_add(ctx, "POST", "/notes", KR_AUTH_USER, create_note, n);
    if (rc == 0)
        rc = kr_route_add(ctx, "GET", "/notes", KR_AUTH_USER, list_notes, n);
    if (rc == 0)
        rc = kr_route_add(ctx, "GET", "/notes/{id}", KR_AUTH_USER, get_note, n);
    if (rc == 0)
        rc = kr_route_add(ctx, "DELETE", "/notes/{id}", KR_AUTH_ADMIN, delete_note, n);
    if (rc == 0)
        rc = kr_route_add(ctx, "GET", "/echo/{word}", KR_AUTH_NONE, echo, n);
    if (rc == 0)
        rc = kr_route_add(ctx, "GET", "/notes/forgetful", KR_AUTH_NONE, forgetful, n);
    if (rc == 0)
        rc = kr_route_add(ctx, "POST", "/conflict", KR_AUTH_NONE, conflicted, n);
    if (rc == 0)
        rc = kr_authenticator_set(ctx, authenticate, NULL);
    if (rc == 0)
        rc = kr_queue_consume(ctx, n->queue, 1, index_note, n);
    if (rc == 0)
        rc = kr_ready_check_add(ctx, "notes-db", ready, n);
    return rc;
}

static int notes_start(kr_plugin_ctx *ctx)
{
    notes *n = kr_ctx_state(ctx);
    json_t *keys = json_pack("{si si}", "owner", 1, "_id", -1);
    int rc = kr_db_create_index(n->coll, keys, 0, NULL);
    json_decref(keys);
    kr_log(ctx, KR_LOG_INFO, "notes started, max_len %lld", (long long)n->max_len);
    return rc;
}

static void notes_fini(kr_plugin_ctx *ctx)
{
    free(kr_ctx_state(ctx));
}

static const kr_plugin notes_plugin = {
    KR_PLUGIN_HEADER,
    .name = "notes",
    .version = "1.0.0",
    .config_schema = "{\"type\":\"object\",\"properties\":{"
                     "\"max_len\":{\"type\":\"integer\",\"default\":140},"
                     "\"queue\":{\"type\":\"string\",\"default\":\"notes\"}}}",
    .init = notes_init,
    .start = notes_start,
    .fini = notes_fini,
};

/* --- the tests --- */

static const kr_principal alice = {.user_id = "alice", .role = "user"};
static const kr_principal bob = {.user_id = "bob", .role = "user"};
static const kr_principal admin = {.user_id = "root", .role = "admin"};

static int setup(void **state)
{
    kr_fakehost *fh = kr_fakehost_new();
    json_t *cfg = json_pack("{si}", "max_len", 10);
    kr_plugin_ctx *ctx = kr_fakehost_load(fh, &notes_plugin, "/v1", cfg);
    json_decref(cfg);
    if (ctx == NULL)
        fail_msg("load: %s", kr_fakehost_error(fh));
    *state = fh;
    return 0;
}

static int teardown(void **state)
{
    kr_fakehost_free(*state);
    return 0;
}

static const char *member(const kr_fake_response *r, const char *name)
{
    return json_string_value(json_object_get(r->json, name));
}

/* The problem+json shape every error answer has. */
static void assert_problem(const kr_fake_response *r, int status, const char *code)
{
    assert_int_equal(r->status, status);
    assert_string_equal(r->content_type, "application/problem+json");
    assert_non_null(r->json);
    assert_string_equal(member(r, "code"), code);
    char type[128];
    snprintf(type, sizeof(type), "https://kirana.dev/problems/%s", code);
    assert_string_equal(member(r, "type"), type);
    assert_int_equal(json_integer_value(json_object_get(r->json, "status")), status);
    assert_non_null(member(r, "title"));
    assert_non_null(member(r, "detail"));
}

static char *create(kr_fakehost *fh, const kr_principal *who, const char *text)
{
    char body[128];
    snprintf(body, sizeof(body), "{\"text\":\"%s\"}", text);
    kr_fake_response r;
    assert_int_equal(kr_fakehost_request(fh, "POST", "/v1/notes", NULL, body, who, &r), 201);
    char *id = strdup(member(&r, "id"));
    kr_fake_response_free(&r);
    return id;
}

static void test_create_and_read(void **state)
{
    kr_fakehost *fh = *state;
    kr_fake_response r;
    assert_int_equal(kr_fakehost_request(fh, "POST", "/v1/notes", NULL, "{\"text\":\"milk\"}", &alice, &r), 201);
    assert_string_equal(r.content_type, "application/json");
    assert_string_equal(member(&r, "text"), "milk");
    assert_true(r.answered);
    char *id = strdup(member(&r, "id"));
    char loc[64];
    snprintf(loc, sizeof(loc), "/v1/notes/%s", id);
    assert_string_equal(kr_fake_response_header(&r, "location"), loc);
    kr_fake_response_free(&r);

    assert_int_equal(kr_fakehost_request(fh, "GET", loc, NULL, NULL, &alice, &r), 200);
    assert_string_equal(member(&r, "owner"), "alice");
    kr_fake_response_free(&r);
    /* another user's note is not found */
    assert_int_equal(kr_fakehost_request(fh, "GET", loc, NULL, NULL, &bob, &r), 404);
    assert_problem(&r, 404, "not_found");
    kr_fake_response_free(&r);

    assert_int_equal(kr_fakehost_counter(fh, "notes_created_total", NULL), 1);
    assert_int_equal(kr_fakehost_gauge(fh, "notes_unindexed", "kind=\"text\""), 1);
    assert_int_equal(kr_fakehost_log_count(fh, KR_LOG_INFO, "created"), 1);
    json_t *logs = kr_fakehost_logs(fh);
    json_t *last = json_array_get(logs, json_array_size(logs) - 1);
    assert_string_equal(json_string_value(json_object_get(last, "plugin")), "notes");
    assert_non_null(json_string_value(json_object_get(last, "request_id")));
    json_decref(logs);
    free(id);
}

static void test_validation_and_body_errors(void **state)
{
    kr_fakehost *fh = *state;
    kr_fake_response r;
    /* max_len 10 from the given config */
    kr_fakehost_request(fh, "POST", "/v1/notes", NULL, "{\"text\":\"far too long a note\"}", &alice, &r);
    assert_problem(&r, 400, "validation_failed");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(r.json, "errors"), 0), "field")), "text");
    kr_fake_response_free(&r);
    kr_fakehost_request(fh, "POST", "/v1/notes", NULL, "[1]", &alice, &r);
    assert_problem(&r, 400, "invalid_request");
    assert_non_null(strstr(member(&r, "detail"), "object"));
    kr_fake_response_free(&r);
    kr_fakehost_request(fh, "POST", "/v1/notes", NULL, "{\"text\":", &alice, &r);
    assert_problem(&r, 400, "invalid_request");
    kr_fake_response_free(&r);
    char deep[200] = "";
    for (int i = 0; i < 33; i++)
        strcat(deep, "{\"a\":");
    strcat(deep, "1");
    for (int i = 0; i < 33; i++)
        strcat(deep, "}");
    kr_fakehost_request(fh, "POST", "/v1/notes", NULL, deep, &alice, &r);
    assert_problem(&r, 400, "invalid_request");
    assert_non_null(strstr(member(&r, "detail"), "32"));
    kr_fake_response_free(&r);
}

static void test_auth(void **state)
{
    kr_fakehost *fh = *state;
    kr_fake_response r;
    /* no principal and no token: the authenticator refuses */
    kr_fakehost_request(fh, "GET", "/v1/notes", NULL, NULL, NULL, &r);
    assert_problem(&r, 401, "unauthorized");
    kr_fake_response_free(&r);
    /* through the plugin's authenticator */
    const char *const hdrs[] = {"Authorization: Bearer carol:user", NULL};
    assert_int_equal(kr_fakehost_request(fh, "POST", "/v1/notes", hdrs, "{\"text\":\"hi\"}", NULL, &r), 201);
    kr_fake_response_free(&r);
    assert_int_equal(kr_fakehost_request(fh, "GET", "/v1/notes", hdrs, NULL, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
    kr_fake_response_free(&r);
    /* admin-only route */
    kr_fakehost_request(fh, "DELETE", "/v1/notes/x", hdrs, NULL, NULL, &r);
    assert_problem(&r, 403, "forbidden");
    kr_fake_response_free(&r);
    kr_fakehost_request(fh, "DELETE", "/v1/notes/x", NULL, NULL, &admin, &r);
    assert_problem(&r, 404, "not_found");
    assert_string_equal(member(&r, "detail"), "no such note");
    kr_fake_response_free(&r);
    /* a KR_AUTH_NONE route sees the principal when a token is sent */
    assert_int_equal(kr_fakehost_request(fh, "GET", "/v1/echo/x", hdrs, NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "who=carol"));
    kr_fake_response_free(&r);
    const char *const junk[] = {"Authorization: Basic zzz", NULL};
    assert_int_equal(kr_fakehost_request(fh, "GET", "/v1/echo/x", junk, NULL, NULL, &r), 200);
    assert_non_null(strstr(r.body, "who=-"));
    kr_fake_response_free(&r);
}

static void test_routing_and_decoding(void **state)
{
    kr_fakehost *fh = *state;
    kr_fake_response r;
    kr_fakehost_set_client_ip(fh, "203.0.113.9");
    assert_int_equal(kr_fakehost_request(fh, "GET", "/v1/echo/a%20b%2Fc?x=1", NULL, NULL, NULL, &r), 200);
    assert_string_equal(r.body, "GET /v1/echo/a b/c word=a b/c ip=203.0.113.9 who=-");
    assert_string_equal(r.content_type, "text/plain");
    assert_null(r.json);
    kr_fake_response_free(&r);
    kr_fakehost_request(fh, "GET", "/v1/nowhere", NULL, NULL, NULL, &r);
    assert_problem(&r, 404, "not_found");
    kr_fake_response_free(&r);
    kr_fakehost_request(fh, "PUT", "/v1/notes", NULL, NULL, &alice, &r);
    assert_problem(&r, 405, "method_not_allowed");
    assert_string_equal(kr_fake_response_header(&r, "allow"), "POST, GET");
    kr_fake_response_free(&r);
    /* a literal segment beats a capture */
    kr_fakehost_request(fh, "GET", "/v1/notes/forgetful", NULL, NULL, &alice, &r);
    assert_problem(&r, 500, "internal");
    assert_false(r.answered);
    assert_int_equal(r.handler_rc, 0);
    kr_fake_response_free(&r);
    assert_int_equal(kr_fakehost_log_count(fh, KR_LOG_ERROR, "without answering"), 1);
    /* a handler returning a code gets that code's problem */
    kr_fakehost_request(fh, "POST", "/v1/conflict", NULL, NULL, NULL, &r);
    assert_problem(&r, 409, "conflict");
    assert_int_equal(r.handler_rc, KR_ECONFLICT);
    kr_fake_response_free(&r);
}

static void test_query_and_list(void **state)
{
    kr_fakehost *fh = *state;
    free(create(fh, &alice, "Eggs"));
    free(create(fh, &alice, "bread"));
    free(create(fh, &alice, "eggplant"));
    free(create(fh, &bob, "eggs"));
    kr_fake_response r;
    assert_int_equal(kr_fakehost_request(fh, "GET", "/v1/notes?q=%5Eegg&limit=5", NULL, NULL, &alice, &r), 200);
    json_t *items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "text")), "eggplant");
    assert_true(json_is_null(json_object_get(r.json, "next_cursor")));
    kr_fake_response_free(&r);
    kr_fakehost_request(fh, "GET", "/v1/notes?limit=0", NULL, NULL, &alice, &r);
    assert_problem(&r, 400, "bad_limit");
    assert_int_equal(json_integer_value(json_object_get(r.json, "max")), 100);
    kr_fake_response_free(&r);
}

static void test_jobs(void **state)
{
    kr_fakehost *fh = *state;
    char *id = create(fh, &alice, "tea");
    assert_int_equal(kr_fakehost_jobs(fh, "notes"), 1);
    json_t *jobs = kr_fakehost_job_list(fh, "notes");
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(jobs, 0), "data"), "note")),
                        id);
    json_decref(jobs);
    assert_int_equal(kr_fakehost_drain(fh, NULL), 1);
    assert_int_equal(kr_fakehost_gauge(fh, "notes_unindexed", "kind=\"text\""), 0);
    json_t *f = json_pack("{ss sb}", "_id", id, "indexed", 1);
    int64_t n = 0;
    assert_int_equal(kr_db_count(kr_db_coll(kr_fakehost_db(fh), "notes"), f, &n), 0);
    assert_int_equal(n, 1);
    json_decref(f);
    json_t *job = kr_fakehost_job(fh, "notes", "1");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(job, "result"), "matched")), 1);
    json_decref(job);
    free(id);
}

static void test_outages(void **state)
{
    kr_fakehost *fh = *state;
    kr_fake_response r;
    kr_fakehost_fail_db(fh, KR_EUNAVAILABLE, 1);
    kr_fakehost_request(fh, "GET", "/v1/notes", NULL, NULL, &alice, &r);
    assert_problem(&r, 503, "unavailable");
    assert_null(strstr(member(&r, "detail"), "injected")); /* internals stay in the log */
    kr_fake_response_free(&r);
    assert_int_equal(kr_fakehost_log_count(fh, KR_LOG_ERROR, "injected DB failure"), 1);
    kr_fakehost_fail_queue(fh, KR_EUNAVAILABLE, 1);
    kr_fakehost_request(fh, "POST", "/v1/notes", NULL, "{\"text\":\"x\"}", &alice, &r);
    assert_problem(&r, 503, "unavailable");
    kr_fake_response_free(&r);
    char msg[128];
    assert_int_equal(kr_fakehost_ready(fh, msg, sizeof(msg)), 0);
    kr_fakehost_fail_db(fh, KR_EUNAVAILABLE, 1);
    assert_int_equal(kr_fakehost_ready(fh, msg, sizeof(msg)), KR_EUNAVAILABLE);
    assert_string_equal(msg, "notes-db: db: KR_EUNAVAILABLE");
    assert_int_equal(kr_fakehost_request(fh, "GET", "/v1/notes", NULL, NULL, &alice, &r), 200);
    kr_fake_response_free(&r);
}

/* --- loading --- */

static int failing_init(kr_plugin_ctx *ctx)
{
    kr_route_add(ctx, "GET", "/half", KR_AUTH_NONE, echo, NULL);
    return KR_EINVAL;
}

static void test_load_refusals(void **state)
{
    (void)state;
    kr_fakehost *fh = kr_fakehost_new();
    kr_plugin bad = notes_plugin;
    bad.magic = 1;
    assert_null(kr_fakehost_load(fh, &bad, NULL, NULL));
    assert_non_null(strstr(kr_fakehost_error(fh), "magic"));
    bad = notes_plugin;
    bad.abi_minor = KR_ABI_MINOR + 1;
    assert_null(kr_fakehost_load(fh, &bad, NULL, NULL));
    assert_non_null(strstr(kr_fakehost_error(fh), "ABI"));
    bad = notes_plugin;
    bad.depends = (const char *const[]){"auth", NULL};
    assert_null(kr_fakehost_load(fh, &bad, NULL, NULL));
    assert_non_null(strstr(kr_fakehost_error(fh), "missing dependency 'auth'"));
    json_t *cfg = json_pack("{ss}", "max_len", "ten");
    assert_null(kr_fakehost_load(fh, &notes_plugin, NULL, cfg));
    assert_non_null(strstr(kr_fakehost_error(fh), "max_len"));
    json_decref(cfg);
    const kr_plugin broken = {KR_PLUGIN_HEADER, .name = "broken", .version = "0", .init = failing_init};
    assert_null(kr_fakehost_load(fh, &broken, NULL, NULL));
    assert_non_null(strstr(kr_fakehost_error(fh), "init failed"));
    kr_fake_response r;
    kr_fakehost_request(fh, "GET", "/half", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 404); /* its routes went with it */
    kr_fake_response_free(&r);
    /* defaults fill what the config leaves out; a second copy is a duplicate */
    kr_plugin_ctx *ctx = kr_fakehost_load(fh, &notes_plugin, NULL, NULL);
    assert_non_null(ctx);
    assert_string_equal(kr_fakehost_error(fh), "");
    assert_int_equal(json_integer_value(json_object_get(kr_ctx_config(ctx), "max_len")), 140);
    assert_string_equal(json_string_value(json_object_get(kr_ctx_config(ctx), "queue")), "notes");
    assert_string_equal(kr_ctx_mount(ctx), "");
    assert_true(kr_ctx_has_role(ctx, "worker"));
    assert_null(kr_fakehost_load(fh, &notes_plugin, "/v2", NULL));
    assert_non_null(strstr(kr_fakehost_error(fh), "duplicate"));
    kr_fakehost_free(fh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_and_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validation_and_body_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_routing_and_decoding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_and_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outages, setup, teardown),
        cmocka_unit_test(test_load_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
