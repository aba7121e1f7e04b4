/* `kirana [--config FILE] admin grant|revoke PHONE`: sets a user's role in
 * the same DB the server uses, creating the user when the phone has never
 * logged in. Access tokens already issued keep their role until they expire
 * (access_ttl); the next refresh or login carries the new one. */
#include <stdio.h>
#include <string.h>

#include "auth.h"

#define USAGE "admin grant|revoke PHONE   give or take the admin role (creates the user if absent)"

static int admin(kr_plugin_ctx *ctx, int argc, char **argv, void *udata)
{
    (void)ctx;
    auth_state *st = udata;
    const char *role = argc == 3 && strcmp(argv[1], "grant") == 0    ? "admin"
                       : argc == 3 && strcmp(argv[1], "revoke") == 0 ? "user"
                                                                     : NULL;
    if (role == NULL) {
        fprintf(stderr, "usage: kirana %s\n", USAGE);
        return 2;
    }
    char phone[AUTH_PHONE_MAX + 1];
    const char *why;
    auth_phone_rc prc = auth_phone_normalize(argv[2], st->otp.countries, phone, &why);
    if (prc != AUTH_PHONE_OK) {
        fprintf(stderr, "kirana admin: %s %s\n", argv[2],
                prc == AUTH_PHONE_NOT_ALLOWED ? "is outside the countries auth serves (otp.countries)" : why);
        return 2;
    }
    if (st->users == NULL) {
        fprintf(stderr, "kirana admin: the auth plugin has no database (configure db:)\n");
        return 1;
    }
    json_t *user = NULL;
    int rc = auth_users_indexes(st);
    if (rc == KR_OK)
        rc = auth_user_set_role(st, phone, role, &user);
    if (rc != KR_OK) {
        fprintf(stderr, "kirana admin: cannot update %s: %s (%s)\n", phone, kr_strerror(rc), kr_errmsg(st->db));
        return 1;
    }
    printf("%s is now %s (user %s)%s\n", phone, role, json_string_value(json_object_get(user, "_id")),
           strcmp(role, "user") == 0 && auth_is_config_admin(st, phone)
               ? "; it is still listed in the auth config's admins, so its next login makes it admin again"
               : "");
    json_decref(user);
    return 0;
}

int auth_cli_add(kr_plugin_ctx *ctx, auth_state *st)
{
    return kr_command_add(ctx, "admin", USAGE, admin, st);
}
