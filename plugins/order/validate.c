/* order.so: request validation (pure: no I/O). Every problem found is
 * reported, each as {field, message}, so a client fixes a form in one go. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "order.h"

#define LINE1_MAX 200
#define CITY_MAX 100
#define NOTE_MAX 500

/* UTF-8 characters in s (jansson has checked the encoding). */
static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* Text a person typed: no control characters (they break labels and
 * logs), and something besides spaces. */
static int text_ok(const char *s)
{
    int visible = 0;
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
        visible |= *s != ' ';
    }
    return visible;
}

static void check_text(const json_t *v, const char *field, size_t max, int required, json_t **errors)
{
    char msg[96];
    if (v == NULL || json_is_null(v)) {
        if (required)
            kr_invalid_add(errors, field, "is required");
        return;
    }
    if (!json_is_string(v)) {
        kr_invalid_add(errors, field, "must be a string");
        return;
    }
    const char *s = json_string_value(v);
    size_t n = chars(s);
    if (n == 0 || n > max || !text_ok(s)) {
        snprintf(msg, sizeof(msg), "must be 1 to %zu characters of text without control characters", max);
        kr_invalid_add(errors, field, msg);
    }
}

static void check_unknown(const json_t *obj, const char *const *known, const char *prefix, json_t **errors)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        int ok = 0;
        for (const char *const *p = known; *p != NULL && !ok; p++)
            ok = strcmp(k, *p) == 0;
        if (!ok) {
            char field[96];
            snprintf(field, sizeof(field), "%s%.80s", prefix, k);
            kr_invalid_add(errors, field, "is not a known field");
        }
    }
}

static void check_coord(const json_t *v, const char *field, double limit, json_t **errors)
{
    if (!json_is_number(v)) {
        kr_invalid_add(errors, field, "must be a number");
        return;
    }
    double d = json_number_value(v);
    if (d < -limit || d > limit)
        kr_invalid_add(errors, field, limit == 90 ? "must be between -90 and 90" : "must be between -180 and 180");
}

static void check_address(const json_t *a, json_t **errors)
{
    static const char *const known[] = {"line1", "city", "pincode", "lat", "lng", NULL};
    if (a == NULL) {
        kr_invalid_add(errors, "address", "is required");
        return;
    }
    if (!json_is_object(a)) {
        kr_invalid_add(errors, "address", "must be an object");
        return;
    }
    check_unknown(a, known, "address.", errors);
    check_text(json_object_get(a, "line1"), "address.line1", LINE1_MAX, 1, errors);
    check_text(json_object_get(a, "city"), "address.city", CITY_MAX, 1, errors);
    const json_t *pin = json_object_get(a, "pincode");
    const char *p = json_string_value(pin);
    /* Indian PIN codes: six digits, the first not 0 */
    int pin_ok = p != NULL && strlen(p) == 6 && p[0] >= '1' && p[0] <= '9' && strspn(p, "0123456789") == 6;
    if (pin == NULL)
        kr_invalid_add(errors, "address.pincode", "is required");
    else if (!pin_ok)
        kr_invalid_add(errors, "address.pincode", "must be a string of 6 digits not starting with 0");
    const json_t *lat = json_object_get(a, "lat"), *lng = json_object_get(a, "lng");
    if (lat != NULL)
        check_coord(lat, "address.lat", 90, errors);
    if (lng != NULL)
        check_coord(lng, "address.lng", 180, errors);
    if ((lat == NULL) != (lng == NULL))
        kr_invalid_add(errors, lat == NULL ? "address.lat" : "address.lng", "lat and lng go together");
}

int order_validate_place(const json_t *body, json_t **clean, json_t **errors)
{
    static const char *const known[] = {"address", "note", NULL};
    *clean = NULL;
    check_unknown(body, known, "", errors);
    const json_t *a = json_object_get(body, "address");
    check_address(a, errors);
    const json_t *note = json_object_get(body, "note");
    check_text(note, "note", NOTE_MAX, 0, errors);
    if (*errors != NULL)
        return KR_EINVAL;
    json_t *addr = json_pack("{s:O, s:O, s:O}", "line1", json_object_get(a, "line1"), "city",
                             json_object_get(a, "city"), "pincode", json_object_get(a, "pincode"));
    if (addr != NULL && json_object_get(a, "lat") != NULL) {
        json_object_set(addr, "lat", json_object_get(a, "lat"));
        json_object_set(addr, "lng", json_object_get(a, "lng"));
    }
    *clean = addr != NULL ? json_pack("{s:o, s:O}", "address", addr, "note", note != NULL ? note : json_null()) : NULL;
    return *clean != NULL ? KR_OK : KR_ENOMEM;
}

int order_validate_status(const json_t *body, order_status *to, json_t **errors)
{
    static const char *const known[] = {"status", NULL};
    check_unknown(body, known, "", errors);
    const json_t *s = json_object_get(body, "status");
    *to = order_status_parse(json_string_value(s));
    if (s == NULL)
        kr_invalid_add(errors, "status", "is required");
    else if (*to == OS_COUNT)
        kr_invalid_add(errors, "status",
                       "must be one of pending, placed, confirmed, packed, out_for_delivery, delivered, cancelled");
    return *errors != NULL ? KR_EINVAL : KR_OK;
}

int order_validate_list(const char *limit, const char *cursor, int *limit_out, char **after_created, char **after_id,
                        json_t **errors)
{
    *limit_out = ORDER_LIMIT_DEFAULT;
    *after_created = *after_id = NULL;
    if (limit != NULL) {
        char *end;
        long n = strtol(limit, &end, 10);
        if (limit[0] < '0' || limit[0] > '9' || *end != '\0' || n < 1 || n > ORDER_LIMIT_MAX)
            kr_invalid_add(errors, "limit", "must be an integer from 1 to 100");
        else
            *limit_out = (int)n;
    }
    if (cursor != NULL) {
        int rc = order_cursor_decode(cursor, after_created, after_id);
        if (rc == KR_ENOMEM)
            return rc;
        if (rc < 0)
            kr_invalid_add(errors, "cursor", "is not a cursor this server gave out");
    }
    if (*errors != NULL) {
        free(*after_created);
        free(*after_id);
        *after_created = *after_id = NULL;
        return KR_EINVAL;
    }
    return KR_OK;
}
