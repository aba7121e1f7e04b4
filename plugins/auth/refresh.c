/* Refresh tokens: opaque "<sid>.<secret>", one family (session) per login.
 *
 * Families live in the DB (`auth_sessions`), not Redis: they last 30 days,
 * and a cache Redis may evict. A family document holds the keyed hash of
 * its one current token; every refresh swaps it for a new one in a guarded
 * atomic update, so of two refreshes with the same token only one wins.
 * Presenting any other token of a live family means a rotated token was
 * replayed (or the family's id leaked with a guessed secret): the family is
 * revoked, which ends the thief's session and the user's alike, as OAuth's
 * refresh-token rotation prescribes.
 *
 * Revocation must also stop the family's access tokens at once, and the
 * authenticator cannot ask the DB on every request: revoked sids and jtis
 * go to a Redis deny-list for as long as an access token can live.
 *
 * Families past their absolute lifetime are deleted by an hourly job on
 * the `auth-sweep` queue, not by the requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

#define SWEEP_QUEUE "auth-sweep"
#define SWEEP_EVERY_MS (3600 * 1000LL)
#define SECRET_BYTES 32
#define SECRET_LEN 43 /* unpadded base64url of 32 bytes */

/* DB failures the client can retry are 503; anything else is our bug. */
static int db_err(int rc)
{
    return rc == KR_EUNAVAILABLE || rc == KR_ENOMEM ? rc : KR_EINTERNAL;
}

static void new_secret(auth_session *out, char hash[AUTH_HASH_HEX + 1], const auth_state *st)
{
    char secret[SECRET_LEN + 1];
    auth_random_token(SECRET_BYTES, secret, sizeof(secret));
    snprintf(out->token, sizeof(out->token), "%s.%s", out->sid, secret);
    auth_keyed_hash_hex(st->refresh_key, out->sid, secret, hash);
}

int auth_session_open(const auth_state *st, const char *user_id, auth_session *out)
{
    memset(out, 0, sizeof(*out));
    auth_random_token(AUTH_ID_BYTES, out->sid, sizeof(out->sid));
    char hash[AUTH_HASH_HEX + 1];
    new_secret(out, hash, st);
    json_int_t now = auth_now_ms(st);
    out->user_id = strdup(user_id);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:b}", "_id", out->sid, "user_id", user_id, "current",
                            hash, "generation", 0, "created_ms", now, "last_used_ms", now, "expires_ms",
                            now + (json_int_t)st->refresh_ttl * 1000, "revoked", 0);
    if (doc == NULL || out->user_id == NULL) {
        json_decref(doc);
        auth_session_clear(out);
        return KR_ENOMEM;
    }
    int rc = kr_db_insert_one(st->sessions, doc, NULL);
    json_decref(doc);
    if (rc != KR_OK) {
        auth_session_clear(out);
        return db_err(rc);
    }
    return KR_OK;
}

static int b64url_only(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '-' || s[i] == '_'))
            return 0;
    return 1;
}

int auth_session_rotate(const auth_state *st, const char *token, auth_session *out)
{
    memset(out, 0, sizeof(*out));
    if (strlen(token) != AUTH_ID_LEN + 1 + SECRET_LEN || token[AUTH_ID_LEN] != '.' ||
        !b64url_only(token, AUTH_ID_LEN) || !b64url_only(token + AUTH_ID_LEN + 1, SECRET_LEN))
        return KR_EAUTH;
    memcpy(out->sid, token, AUTH_ID_LEN);
    char hash[AUTH_HASH_HEX + 1];
    auth_keyed_hash_hex(st->refresh_key, out->sid, token + AUTH_ID_LEN + 1, hash);

    json_t *filter = json_pack("{s:s}", "_id", out->sid);
    json_t *doc = NULL;
    int rc = filter != NULL ? kr_db_find_one(st->sessions, filter, NULL, NULL, &doc) : KR_ENOMEM;
    json_decref(filter);
    if (rc == KR_ENOTFOUND)
        return KR_EAUTH;
    if (rc != KR_OK)
        return db_err(rc);
    json_int_t now = auth_now_ms(st);
    const char *current = json_string_value(json_object_get(doc, "current"));
    const char *user_id = json_string_value(json_object_get(doc, "user_id"));
    json_int_t expires = json_integer_value(json_object_get(doc, "expires_ms"));
    json_int_t used = json_integer_value(json_object_get(doc, "last_used_ms"));
    rc = KR_EAUTH;
    if (json_is_true(json_object_get(doc, "revoked")) || current == NULL || user_id == NULL || now >= expires ||
        now >= used + (json_int_t)st->refresh_idle_ttl * 1000) {
        /* dead family: nothing to revoke */
    } else if (!auth_hash_equal(current, hash)) {
        kr_counter_add(st->m_refresh_reuse, 1);
        kr_log(st->ctx, KR_LOG_WARN, "refresh token reuse: revoking session %s of user %s", out->sid, user_id);
        rc = auth_session_revoke(st, out->sid, NULL, "reuse");
        rc = rc == KR_OK ? KR_EAUTH : rc;
    } else if ((out->user_id = strdup(user_id)) == NULL) {
        rc = KR_ENOMEM;
    } else {
        char next[AUTH_HASH_HEX + 1];
        new_secret(out, next, st);
        json_t *guard = json_pack("{s:s, s:s, s:b}", "_id", out->sid, "current", hash, "revoked", 0);
        json_t *update =
            json_pack("{s:{s:s, s:I}, s:{s:i}}", "$set", "current", next, "last_used_ms", now, "$inc", "generation", 1);
        json_t *after = NULL;
        rc = guard != NULL && update != NULL
                 ? kr_db_find_one_and_update(st->sessions, guard, update, NULL, KR_DB_RETURN_AFTER, &after)
                 : KR_ENOMEM;
        json_decref(guard);
        json_decref(update);
        json_decref(after);
        if (rc == KR_ENOTFOUND) {
            /* Another refresh with this same token won the race: this one
             * is the replay. */
            kr_counter_add(st->m_refresh_reuse, 1);
            rc = auth_session_revoke(st, out->sid, NULL, "reuse");
            rc = rc == KR_OK ? KR_EAUTH : rc;
        } else if (rc != KR_OK) {
            rc = db_err(rc);
        }
    }
    json_decref(doc);
    if (rc != KR_OK)
        auth_session_clear(out);
    return rc;
}

int auth_session_revoke(const auth_state *st, const char *sid, const char *jti, const char *reason)
{
    json_t *filter = json_pack("{s:s, s:b}", "_id", sid, "revoked", 0);
    json_t *update = json_pack("{s:{s:b, s:I, s:s}}", "$set", "revoked", 1, "revoked_ms", (json_int_t)auth_now_ms(st),
                               "revoked_reason", reason);
    int rc = filter != NULL && update != NULL ? kr_db_update_one(st->sessions, filter, update, 0, NULL) : KR_ENOMEM;
    json_decref(filter);
    json_decref(update);
    if (rc != KR_OK)
        return db_err(rc);
    /* An access token lives at most access_ttl (+ leeway) after it was
     * issued, and none is issued for a revoked family: the deny entries
     * can expire then. */
    char ttl[24];
    snprintf(ttl, sizeof(ttl), "%ld", st->jwt.access_ttl + st->jwt.leeway);
    char *ksid = auth_key(st, "deny:sid:", sid);
    char *kjti = jti != NULL ? auth_key(st, "deny:jti:", jti) : NULL;
    if (ksid == NULL || (jti != NULL && kjti == NULL)) {
        free(ksid);
        free(kjti);
        return KR_ENOMEM;
    }
    const char *a[] = {"SET", ksid, "1", "EX", ttl}, *b[] = {"SET", kjti, "1", "EX", ttl};
    kr_redis_cmd cmds[] = {{5, a, NULL}, {5, b, NULL}};
    size_t n = jti != NULL ? 2 : 1;
    kr_redis_reply **rep = NULL;
    rc = kr_redis_pipeline(st->redis, n, cmds, &rep);
    if (rc == KR_OK) {
        for (size_t i = 0; i < n; i++)
            if (rep[i]->type != KR_REDIS_STRING)
                rc = KR_EUNAVAILABLE;
        kr_redis_replies_free(rep, n);
    } else {
        rc = KR_EUNAVAILABLE;
    }
    free(ksid);
    free(kjti);
    return rc;
}

void auth_session_clear(auth_session *s)
{
    free(s->user_id);
    memset(s, 0, sizeof(*s));
}

int auth_denied(const auth_state *st, const char *jti, const char *sid)
{
    char *kjti = auth_key(st, "deny:jti:", jti);
    char *ksid = auth_key(st, "deny:sid:", sid);
    int rc = KR_ENOMEM;
    if (kjti != NULL && ksid != NULL) {
        kr_redis_reply *rep = NULL;
        rc = kr_redis_command(st->redis, &rep, "EXISTS", kjti, ksid, (char *)NULL);
        if (rc != KR_OK || rep == NULL || rep->type != KR_REDIS_INTEGER)
            rc = KR_EUNAVAILABLE;
        else
            rc = rep->integer > 0 ? KR_EAUTH : KR_OK;
        kr_redis_reply_free(rep);
    }
    free(kjti);
    free(ksid);
    return rc;
}

int auth_sweep_schedule(const auth_state *st)
{
    /* The job id names the hour slot, so however many workers schedule
     * it, the queue holds one sweep per slot. */
    int64_t now = auth_now_ms(st);
    int64_t slot = now / SWEEP_EVERY_MS + 1;
    char id[48];
    snprintf(id, sizeof(id), "sweep-%lld", (long long)slot);
    json_t *data = json_object();
    json_t *opts = json_pack("{s:s, s:I, s:i, s:{s:s, s:i}, s:b, s:b}", "jobId", id, "delay",
                             (json_int_t)(slot * SWEEP_EVERY_MS - now), "attempts", 5, "backoff", "type", "exponential",
                             "delay", 60000, "removeOnComplete", 1, "removeOnFail", 1);
    int rc = data != NULL && opts != NULL ? kr_queue_add(st->queue, SWEEP_QUEUE, "sweep", data, opts, NULL) : KR_ENOMEM;
    json_decref(data);
    json_decref(opts);
    return rc;
}

int auth_sweep_consume(kr_job *job, void *udata)
{
    const auth_state *st = udata;
    /* The next slot first: a failed sweep must not end the chain. */
    int rc = auth_sweep_schedule(st);
    if (rc != KR_OK)
        return rc;
    json_t *filter = json_pack("{s:{s:I}}", "expires_ms", "$lt", (json_int_t)auth_now_ms(st));
    int64_t deleted = 0;
    rc = filter != NULL ? kr_db_delete_many(st->sessions, filter, &deleted) : KR_ENOMEM;
    json_decref(filter);
    if (rc == KR_OK)
        kr_job_set_result(job, json_pack("{s:I}", "deleted", (json_int_t)deleted));
    return rc;
}
