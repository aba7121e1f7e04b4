/* Where a user's cart lives in Redis, shared with the plugins that touch
 * carts (order.so clears the cart after placing an order).
 *
 * One hash per user, key CART_KEY_PREFIX + user id; field = product id,
 * value = quantity as a decimal integer >= 1. The key expires after the
 * cart's configured idle time (sliding: every read and change renews it). */
#ifndef KIRANA_CART_KEY_H
#define KIRANA_CART_KEY_H

#define CART_KEY_PREFIX "cart:"

#endif
