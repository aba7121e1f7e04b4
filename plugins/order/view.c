/* order.so: what clients see of an order, and the final answers that the
 * idempotency records keep. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "order.h"

/* A member copied as is; null when absent. */
static json_t *member(const json_t *doc, const char *k)
{
    json_t *v = json_object_get(doc, k);
    return v != NULL ? json_incref(v) : json_null();
}

/* The address in the order clients wrote it in (the store returns keys in
 * its own order). */
static json_t *address_view(const json_t *a)
{
    static const char *const keys[] = {"line1", "city", "pincode", "lat", "lng"};
    if (!json_is_object(a))
        return json_null();
    json_t *out = json_object();
    for (size_t i = 0; out != NULL && i < sizeof(keys) / sizeof(keys[0]); i++)
        if (json_object_get(a, keys[i]) != NULL)
            json_object_set(out, keys[i], json_object_get(a, keys[i]));
    return out;
}

json_t *order_view(const json_t *doc)
{
    json_t *items = json_array();
    if (items == NULL)
        return NULL;
    size_t i;
    const json_t *l;
    json_array_foreach(json_object_get(doc, OD_ITEMS), i, l) json_array_append_new(
        items, json_pack("{s:o, s:o, s:o, s:o, s:o}", "product_id", member(l, "product_id"), "name", member(l, "name"),
                         "price", member(l, "price"), "qty", member(l, "qty"), "line_total", member(l, "line_total")));
    /* built member by member, for the same reason */
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id", member(doc, OD_ID), "user_id",
                     member(doc, OD_USER), "status", member(doc, OD_STATUS), "items", items, "total",
                     member(doc, OD_TOTAL), "currency", member(doc, OD_CURRENCY), "address",
                     address_view(json_object_get(doc, OD_ADDRESS)), "note", member(doc, OD_NOTE), "cancel_reason",
                     member(doc, OD_CANCEL_REASON), "created_at", member(doc, OD_CREATED), "updated_at",
                     member(doc, OD_UPDATED));
}

char *order_event_message(const json_t *doc)
{
    json_t *m = json_pack("{s:o, s:o}", "order", member(doc, OD_ID), "history", member(doc, OD_HISTORY));
    char *s = m != NULL ? json_dumps(m, JSON_COMPACT) : NULL;
    json_decref(m);
    return s;
}

void order_answer_problem(order_answer *a, int status, const char *code, json_t *extra, const char *fmt, ...)
{
    a->status = status;
    snprintf(a->code, sizeof(a->code), "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->detail, sizeof(a->detail), fmt, ap);
    va_end(ap);
    json_decref(a->json);
    a->json = extra;
    a->location[0] = '\0';
}

void order_answer_free(order_answer *a)
{
    json_decref(a->json);
    memset(a, 0, sizeof(*a));
}

int order_answer_reply(kr_req *req, const order_answer *a)
{
    if (a->code[0] != '\0')
        return kr_reply_problem(req, a->status, a->code, a->detail, a->json != NULL ? json_deep_copy(a->json) : NULL);
    if (a->location[0] != '\0') {
        int rc = kr_resp_header(req, "location", a->location);
        if (rc < 0)
            return rc;
    }
    /* serialised the same way for the first answer and every replay */
    char *body = a->json != NULL ? json_dumps(a->json, JSON_COMPACT) : NULL;
    if (body == NULL)
        return KR_ENOMEM;
    int rc = kr_reply(req, a->status, "application/json", body, strlen(body));
    free(body);
    return rc;
}
