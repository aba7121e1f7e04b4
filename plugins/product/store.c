/* product.so: the products collection through kr_db (worker threads).
 *
 * Lists are ordered by (name, _id), a total order, and paged by keyset:
 * the next page starts strictly after the last (name, _id) served. Rows
 * inserted or renamed between two pages therefore never shift the rest, so
 * no product is served twice or skipped (one inserted behind the cursor is
 * simply not seen by that walk). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "product.h"

/* ISO 8601 UTC with milliseconds: sorts as text, parses everywhere. */
static json_t *now_iso(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char buf[40];
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof(buf) - n, ".%03ldZ", ts.tv_nsec / 1000000);
    return json_string(buf);
}

int product_store_indexes(product_state *st)
{
    /* category + name serves a category's listing in its sort order,
     * active the storefront's filter, name + _id the listing's sort (an
     * index ending in _id is one a sorted find can read in order: the
     * first page stops after limit + 1 rows instead of sorting them all). */
    static const char *const specs[][2] = {{PD_CATEGORY, PD_NAME}, {PD_ACTIVE, NULL}, {PD_NAME, PD_ID}};
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        json_t *keys = json_pack("{si}", specs[i][0], 1);
        if (keys != NULL && specs[i][1] != NULL)
            json_object_set_new(keys, specs[i][1], json_integer(1));
        int rc = keys != NULL ? kr_db_create_index(st->coll, keys, 0, NULL) : KR_ENOMEM;
        json_decref(keys);
        if (rc < 0)
            return rc;
    }
    return KR_OK;
}

int product_store_get(product_state *st, const char *id, int admin, json_t **out)
{
    json_t *filter = admin ? json_pack("{ss}", PD_ID, id) : json_pack("{sssb}", PD_ID, id, PD_ACTIVE, 1);
    json_t *proj = admin ? NULL : product_public_projection();
    int rc = filter != NULL && (admin || proj != NULL) ? kr_db_find_one(st->coll, filter, NULL, proj, out) : KR_ENOMEM;
    json_decref(filter);
    json_decref(proj);
    return rc;
}

char *product_regex_escape(const char *s)
{
    char *out = malloc(strlen(s) * 2 + 1);
    if (out == NULL)
        return NULL;
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        /* A backslash before a non-alphanumeric ASCII character makes it
         * literal in PCRE (MongoDB) and in PostgreSQL's regexes alike;
         * before a letter it would start an escape, and UTF-8 bytes are
         * never special. */
        if (*p < 0x80 && !((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
            out[n++] = '\\';
        out[n++] = (char)*p;
    }
    out[n] = '\0';
    return out;
}

/* The clauses of a list query, ANDed. Caller-owned. */
static json_t *list_filter(const product_list_query *lq)
{
    json_t *and = json_array();
    if (and == NULL)
        return NULL;
    if (!lq->include_inactive)
        json_array_append_new(and, json_pack("{sb}", PD_ACTIVE, 1));
    if (lq->category != NULL)
        json_array_append_new(and, json_pack("{ss}", PD_CATEGORY, lq->category));
    if (lq->q != NULL) {
        char *re = product_regex_escape(lq->q);
        if (re == NULL) {
            json_decref(and);
            return NULL;
        }
        json_array_append_new(and, json_pack("{s{ssss}}", PD_NAME, "$regex", re, "$options", "i"));
        free(re);
    }
    if (lq->has_cursor)
        json_array_append_new(and, json_pack("{s[{s{ss}}{sss{ss}}]}", "$or", PD_NAME, "$gt", lq->after.name, PD_NAME,
                                             lq->after.name, PD_ID, "$gt", lq->after.id));
    /* json_array_append_new drops a NULL: count what should be there */
    size_t want = !lq->include_inactive + (lq->category != NULL) + (lq->q != NULL) + lq->has_cursor;
    if (json_array_size(and) != want) {
        json_decref(and);
        return NULL;
    }
    if (want == 0) {
        json_decref(and);
        return json_object();
    }
    return json_pack("{so}", "$and", and);
}

int product_store_list(product_state *st, const product_list_query *lq, int admin, json_t **items, int *more)
{
    *items = NULL;
    *more = 0;
    json_t *filter = list_filter(lq);
    json_t *sort = json_pack("{sisi}", PD_NAME, 1, PD_ID, 1);
    json_t *proj = admin ? NULL : product_public_projection();
    int rc = KR_ENOMEM;
    if (filter != NULL && sort != NULL && (admin || proj != NULL))
        /* one extra row tells whether another page follows */
        rc = kr_db_find(st->coll, filter, sort, proj, 0, lq->limit + 1, items);
    json_decref(filter);
    json_decref(sort);
    json_decref(proj);
    if (rc < 0)
        return rc;
    if (json_array_size(*items) > (size_t)lq->limit) {
        json_array_remove(*items, (size_t)lq->limit);
        *more = 1;
    }
    return KR_OK;
}

int product_store_create(product_state *st, const json_t *fields, json_t **out)
{
    *out = NULL;
    json_t *doc = json_deep_copy(fields);
    json_t *now = now_iso();
    if (doc == NULL || now == NULL) {
        json_decref(doc);
        json_decref(now);
        return KR_ENOMEM;
    }
    json_object_set_new(doc, PD_RESERVED, json_integer(0));
    json_object_set_new(doc, PD_COMMITTED, json_integer(0));
    json_object_set_new(doc, PD_SHIPPED, json_integer(0));
    json_object_set_new(doc, PD_HOLDS, json_array());
    json_object_set_new(doc, PD_COMMITS, json_array());
    json_object_set(doc, PD_CREATED_AT, now);
    json_object_set_new(doc, PD_UPDATED_AT, now);
    char *id = NULL;
    int rc = kr_db_insert_one(st->coll, doc, &id);
    if (rc < 0) {
        json_decref(doc);
        return rc;
    }
    json_object_set_new(doc, PD_ID, json_string(id));
    free(id);
    *out = doc;
    return KR_OK;
}

int product_store_patch(product_state *st, const char *id, const json_t *set, const json_t *unset, json_t **out)
{
    *out = NULL;
    /* An empty patch changes nothing, updated_at included. */
    if (json_object_size(set) == 0 && json_object_size(unset) == 0)
        return product_store_get(st, id, 1, out);
    json_t *s = json_deep_copy(set);
    json_t *update = s != NULL ? json_pack("{so}", "$set", s) : NULL;
    json_t *filter = json_pack("{ss}", PD_ID, id);
    int rc = KR_ENOMEM;
    if (update != NULL && filter != NULL) {
        json_object_set_new(s, PD_UPDATED_AT, now_iso());
        if (json_object_size(unset) > 0)
            json_object_set(update, "$unset", (json_t *)unset);
        rc = kr_db_find_one_and_update(st->coll, filter, update, NULL, KR_DB_RETURN_AFTER, out);
    }
    json_decref(update);
    json_decref(filter);
    return rc;
}

int product_store_deactivate(product_state *st, const char *id)
{
    json_t *filter = json_pack("{ss}", PD_ID, id);
    json_t *update = json_pack("{s{sbso}}", "$set", PD_ACTIVE, 0, PD_UPDATED_AT, now_iso());
    kr_update_result res = {0};
    int rc = filter != NULL && update != NULL ? kr_db_update_one(st->coll, filter, update, 0, &res) : KR_ENOMEM;
    json_decref(filter);
    json_decref(update);
    free(res.upserted_id);
    if (rc < 0)
        return rc;
    return res.matched > 0 ? KR_OK : KR_ENOTFOUND;
}

int product_store_restock(product_state *st, const char *id, json_int_t delta, json_t **out, json_int_t *stock_now)
{
    *out = NULL;
    *stock_now = 0;
    /* The guard and the change are one atomic update, so concurrent
     * restocks and order reservations can never take stock below 0. */
    json_t *filter = delta < 0 ? json_pack("{sss{sI}}", PD_ID, id, PD_STOCK, "$gte", -delta)
                               : json_pack("{sss{sI}}", PD_ID, id, PD_STOCK, "$lte", PRODUCT_STOCK_MAX - delta);
    json_t *update = json_pack("{s{sI}s{so}}", "$inc", PD_STOCK, delta, "$set", PD_UPDATED_AT, now_iso());
    int rc = filter != NULL && update != NULL
                 ? kr_db_find_one_and_update(st->coll, filter, update, NULL, KR_DB_RETURN_AFTER, out)
                 : KR_ENOMEM;
    json_decref(filter);
    json_decref(update);
    if (rc != KR_ENOTFOUND)
        return rc;
    /* Nothing matched: no such product, or the guard refused. */
    json_t *doc;
    rc = product_store_get(st, id, 1, &doc);
    if (rc < 0)
        return rc;
    *stock_now = json_integer_value(json_object_get(doc, PD_STOCK));
    json_decref(doc);
    return KR_ECONFLICT;
}
