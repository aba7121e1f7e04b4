/* cart.so: the products a cart refers to, read from the catalogue's
 * collection (document shape: product_doc.h). Worker threads. */
#include "cart.h"

/* Only what a cart shows or checks. */
static json_t *projection(void)
{
    return json_pack("{sisisisi}", PD_NAME, 1, PD_PRICE, 1, PD_STOCK, 1, PD_ACTIVE, 1);
}

int cart_product_active(const json_t *doc)
{
    return json_is_true(json_object_get(doc, PD_ACTIVE));
}

int cart_catalog_get(cart_state *st, const char *product_id, json_t **doc)
{
    *doc = NULL;
    json_t *filter = json_pack("{ss}", PD_ID, product_id);
    json_t *proj = projection();
    int rc = filter != NULL && proj != NULL ? kr_db_find_one(st->products, filter, NULL, proj, doc) : KR_ENOMEM;
    json_decref(filter);
    json_decref(proj);
    return rc;
}

int cart_catalog_batch(cart_state *st, const cart_lines *lines, json_t **by_id)
{
    *by_id = json_object();
    if (*by_id == NULL)
        return KR_ENOMEM;
    if (lines->n == 0)
        return KR_OK;
    json_t *ids = json_array();
    for (size_t i = 0; ids != NULL && i < lines->n; i++)
        if (json_array_append_new(ids, json_string(lines->v[i].product_id)) != 0) {
            json_decref(ids);
            ids = NULL;
        }
    /* one $in read for the whole cart, whatever its size */
    json_t *filter = ids != NULL ? json_pack("{s{so}}", PD_ID, "$in", ids) : NULL;
    json_t *proj = projection();
    json_t *docs = NULL;
    int rc = filter != NULL && proj != NULL ? kr_db_find(st->products, filter, NULL, proj, 0, 0, &docs) : KR_ENOMEM;
    json_decref(filter);
    json_decref(proj);
    size_t i;
    json_t *doc;
    json_array_foreach(docs, i, doc)
    {
        const char *id = json_string_value(json_object_get(doc, PD_ID));
        if (id != NULL)
            json_object_set(*by_id, id, doc);
    }
    json_decref(docs);
    if (rc < 0) {
        json_decref(*by_id);
        *by_id = NULL;
    }
    return rc;
}
