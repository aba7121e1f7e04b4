/* product.so: what clients see of a stored product.
 *
 * Every view has every key (null for an optional field that is not set), so
 * clients need no presence checks. The stock bookkeeping of the order flow
 * (reserved, committed, shipped, holds, commits) and the status fields are
 * admin-only. */
#include "product.h"

static const char *const public_fields[] = {PD_NAME,     PD_DESCRIPTION, PD_PRICE, PD_UNIT,
                                            PD_CATEGORY, PD_IMAGE_URL,   PD_STOCK};
static const char *const admin_counts[] = {PD_RESERVED, PD_COMMITTED, PD_SHIPPED};
static const char *const admin_lists[] = {PD_HOLDS, PD_COMMITS};
static const char *const admin_fields[] = {PD_ACTIVE, PD_CREATED_AT, PD_UPDATED_AT};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void copy_or(json_t *out, const json_t *doc, const char *key, json_t *fallback)
{
    json_t *v = json_object_get(doc, key);
    if (v != NULL) {
        json_object_set(out, key, v);
        json_decref(fallback);
    } else
        json_object_set_new(out, key, fallback);
}

json_t *product_view(const json_t *doc, int admin)
{
    json_t *out = json_object();
    if (out == NULL)
        return NULL;
    /* "id" for clients: "_id" is the store's spelling */
    json_t *id = json_object_get(doc, PD_ID);
    json_object_set_new(out, "id", id != NULL ? json_incref(id) : json_null());
    for (size_t i = 0; i < COUNT(public_fields); i++)
        copy_or(out, doc, public_fields[i], json_null());
    if (!admin)
        return out;
    for (size_t i = 0; i < COUNT(admin_counts); i++)
        copy_or(out, doc, admin_counts[i], json_integer(0));
    for (size_t i = 0; i < COUNT(admin_lists); i++)
        copy_or(out, doc, admin_lists[i], json_array());
    for (size_t i = 0; i < COUNT(admin_fields); i++)
        copy_or(out, doc, admin_fields[i], json_null());
    return out;
}

json_t *product_public_projection(void)
{
    /* Leaves out what only admins see rather than naming what the public
     * sees: the same view either way, and PostgreSQL drops named keys
     * (doc - ARRAY[...]) far more cheaply than it builds a document of the
     * kept ones, while holds and commits are never sent or parsed. */
    static const char *const *const lists[] = {admin_counts, admin_lists, admin_fields};
    static const size_t sizes[] = {COUNT(admin_counts), COUNT(admin_lists), COUNT(admin_fields)};
    json_t *p = json_object();
    for (size_t l = 0; p != NULL && l < COUNT(lists); l++)
        for (size_t i = 0; i < sizes[l]; i++)
            if (json_object_set_new(p, lists[l][i], json_integer(0)) != 0) {
                json_decref(p);
                return NULL;
            }
    return p;
}
