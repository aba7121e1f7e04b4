/* The `users` collection: {_id, phone (unique), name, role, created_at,
 * updated_at}. A user is created by the first login (or by `kirana admin
 * grant`); the unique index on phone keeps two racing first logins from
 * making two users, and the loser of that race simply retries. */
#include <string.h>

#include "auth.h"

static int db_err(int rc)
{
    return rc == KR_EUNAVAILABLE || rc == KR_ENOMEM || rc == KR_ENOTFOUND ? rc : KR_EINTERNAL;
}

int auth_is_config_admin(const auth_state *st, const char *phone)
{
    for (size_t i = 0; i < st->nadmins; i++)
        if (strcmp(st->admins[i], phone) == 0)
            return 1;
    return 0;
}

/* Upsert by phone: `set` applies always, `insert` only to a new user. */
static int upsert_by_phone(const auth_state *st, const char *phone, json_t *set, json_t *insert, json_t **user)
{
    json_t *filter = json_pack("{s:s}", "phone", phone);
    json_t *update = json_object();
    if (set != NULL)
        json_object_set(update, "$set", set);
    json_object_set(update, "$setOnInsert", insert);
    int rc = KR_ENOMEM;
    if (filter != NULL && update != NULL && insert != NULL) {
        for (int tries = 0; tries < 2; tries++) {
            rc = kr_db_find_one_and_update(st->users, filter, update, NULL, KR_DB_UPSERT | KR_DB_RETURN_AFTER, user);
            if (rc != KR_EDUPLICATE)
                break;
        }
    }
    json_decref(filter);
    json_decref(update);
    json_decref(set);
    json_decref(insert);
    return rc == KR_OK ? KR_OK : db_err(rc);
}

int auth_user_login(const auth_state *st, const char *phone, json_t **user)
{
    /* Most logins are returning users: a plain read, no row lock. */
    json_t *filter = json_pack("{s:s}", "phone", phone);
    int rc = filter != NULL ? kr_db_find_one(st->users, filter, NULL, NULL, user) : KR_ENOMEM;
    json_decref(filter);
    if (rc != KR_OK && rc != KR_ENOTFOUND)
        return db_err(rc);
    /* Config admins are (re)made admins at every login; everyone else keeps
     * the role stored, which `kirana admin grant|revoke` changes. */
    const char *role = json_string_value(json_object_get(*user, "role"));
    int admin = auth_is_config_admin(st, phone);
    if (rc == KR_OK && (!admin || (role != NULL && strcmp(role, "admin") == 0)))
        return KR_OK;
    json_decref(*user);
    *user = NULL;
    char now[32];
    auth_iso_time(auth_now_ms(st), now, sizeof(now));
    if (admin)
        return upsert_by_phone(st, phone, json_pack("{s:s}", "role", "admin"),
                               json_pack("{s:n, s:s, s:s}", "name", "created_at", now, "updated_at", now), user);
    return upsert_by_phone(
        st, phone, NULL,
        json_pack("{s:n, s:s, s:s, s:s}", "name", "role", "user", "created_at", now, "updated_at", now), user);
}

int auth_user_set_role(const auth_state *st, const char *phone, const char *role, json_t **user)
{
    char now[32];
    auth_iso_time(auth_now_ms(st), now, sizeof(now));
    return upsert_by_phone(st, phone, json_pack("{s:s, s:s}", "role", role, "updated_at", now),
                           json_pack("{s:n, s:s}", "name", "created_at", now), user);
}

int auth_user_get(const auth_state *st, const char *id, json_t **user)
{
    json_t *filter = json_pack("{s:s}", "_id", id);
    int rc = filter != NULL ? kr_db_find_one(st->users, filter, NULL, NULL, user) : KR_ENOMEM;
    json_decref(filter);
    return rc == KR_OK ? KR_OK : db_err(rc);
}

int auth_user_set_name(const auth_state *st, const char *id, const char *name, json_t **user)
{
    char now[32];
    auth_iso_time(auth_now_ms(st), now, sizeof(now));
    json_t *filter = json_pack("{s:s}", "_id", id);
    json_t *update = json_pack("{s:{s:s?, s:s}}", "$set", "name", name, "updated_at", now);
    int rc = filter != NULL && update != NULL
                 ? kr_db_find_one_and_update(st->users, filter, update, NULL, KR_DB_RETURN_AFTER, user)
                 : KR_ENOMEM;
    json_decref(filter);
    json_decref(update);
    return rc == KR_OK ? KR_OK : db_err(rc);
}

json_t *auth_user_view(const json_t *user)
{
    json_t *name = json_object_get(user, "name");
    return json_pack("{s:O, s:O, s:O}", "id", json_object_get(user, "_id"), "phone", json_object_get(user, "phone"),
                     "name", name != NULL ? name : json_null());
}

int auth_users_indexes(const auth_state *st)
{
    json_t *phone = json_pack("{s:i}", "phone", 1);
    json_t *user = json_pack("{s:i}", "user_id", 1);
    int rc =
        phone != NULL && user != NULL ? kr_db_create_index(st->users, phone, KR_DB_UNIQUE, "phone_unique") : KR_ENOMEM;
    if (rc == KR_OK)
        rc = kr_db_create_index(st->sessions, user, 0, "user_id");
    json_decref(phone);
    json_decref(user);
    return rc;
}
