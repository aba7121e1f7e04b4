/* cart.so: the cart as clients see it, priced from the catalogue now (a
 * cart holds no prices, so a price change shows up at once). */
#include "cart.h"

json_t *cart_view(const cart_lines *lines, const json_t *by_id)
{
    json_t *items = json_array();
    json_int_t total = 0;
    for (size_t i = 0; items != NULL && i < lines->n; i++) {
        const cart_line *l = &lines->v[i];
        const json_t *doc = json_object_get(by_id, l->product_id);
        json_t *price = json_object_get(doc, PD_PRICE);
        json_t *name = json_object_get(doc, PD_NAME);
        json_t *line_total = json_is_integer(price) ? json_integer(json_integer_value(price) * l->qty) : json_null();
        /* A product that is gone, switched off or short of stock stays in
         * the cart (the user decides) but is not counted. */
        int available = doc != NULL && cart_product_active(doc) && json_is_integer(price) &&
                        json_integer_value(json_object_get(doc, PD_STOCK)) >= l->qty;
        if (available)
            total += json_integer_value(line_total);
        json_t *item = json_pack("{sssOsOsIsosb}", "product_id", l->product_id, "name",
                                 name != NULL ? name : json_null(), "price", price != NULL ? price : json_null(), "qty",
                                 (json_int_t)l->qty, "line_total", line_total, "available", available);
        if (json_array_append_new(items, item) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    return items != NULL ? json_pack("{sosIss}", "items", items, "total", total, "currency", "INR") : NULL;
}
