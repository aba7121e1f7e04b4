/* cart.so: what a client may send. Pure functions, no I/O.
 *
 * A quantity must be a JSON integer: 2.0, "2", true and null are refused,
 * so a client bug cannot turn into a surprising cart. */
#include <string.h>

#include "cart.h"

/* NULL when v is an integer quantity in min..CART_QTY_INPUT_MAX. */
static const char *qty_problem(const json_t *v, long long min)
{
    if (!json_is_integer(v))
        return "must be an integer";
    json_int_t n = json_integer_value(v);
    if (n < min)
        return min > 0 ? "must be at least 1" : "must not be negative";
    if (n > CART_QTY_INPUT_MAX)
        return "must be at most 1000000";
    return NULL;
}

/* Refuses every key of body outside allowed (NULL-terminated). */
static int unknown_fields(const json_t *body, const char *const *allowed, json_t **errors)
{
    const char *key;
    const json_t *v;
    int bad = 0;
    json_object_foreach((json_t *)body, key, v)
    {
        int known = 0;
        for (const char *const *a = allowed; *a != NULL; a++)
            known |= strcmp(*a, key) == 0;
        if (!known) {
            kr_invalid_add(errors, key, "is not a known field");
            bad = 1;
        }
    }
    return bad;
}

static int check_qty(const json_t *body, long long min, long long *qty, json_t **errors)
{
    const json_t *q = json_object_get(body, "qty");
    const char *msg = q == NULL ? "is required" : qty_problem(q, min);
    if (msg != NULL) {
        kr_invalid_add(errors, "qty", msg);
        return 1;
    }
    *qty = json_integer_value(q);
    return 0;
}

int cart_validate_add(const json_t *body, const char **product_id, long long *qty, json_t **errors)
{
    static const char *const allowed[] = {"product_id", "qty", NULL};
    int bad = unknown_fields(body, allowed, errors);
    const json_t *p = json_object_get(body, "product_id");
    if (p == NULL) {
        kr_invalid_add(errors, "product_id", "is required");
        bad = 1;
    } else if (!json_is_string(p) || !product_id_plausible(json_string_value(p))) {
        kr_invalid_add(errors, "product_id", "must be a product id");
        bad = 1;
    } else
        *product_id = json_string_value(p);
    bad |= check_qty(body, 1, qty, errors);
    return bad ? KR_EINVAL : KR_OK;
}

int cart_validate_set(const json_t *body, long long *qty, json_t **errors)
{
    static const char *const allowed[] = {"qty", NULL};
    int bad = unknown_fields(body, allowed, errors);
    bad |= check_qty(body, 0, qty, errors);
    return bad ? KR_EINVAL : KR_OK;
}
