/* product.so: list cursors.
 *
 * A cursor is the sort key of the last item served, (name, _id), as the
 * JSON array [name, id] in base64url without padding. Clients treat it as
 * opaque; the server re-validates everything it decodes, since a client can
 * send any bytes. */
#include <stdlib.h>
#include <string.h>

#include "product.h"

/* Longer text was not made by this server: names and ids are bounded. */
#define CURSOR_TEXT_MAX 2048

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *b64_encode(const unsigned char *in, size_t n)
{
    char *out = malloc((n + 2) / 3 * 4 + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = b64url[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = b64url[v & 63];
    }
    out[o] = '\0';
    return out;
}

static int b64_value(char c)
{
    const char *p = c != '\0' ? strchr(b64url, c) : NULL;
    return p != NULL ? (int)(p - b64url) : -1;
}

/* Decoded bytes (caller-owned) and their count, or NULL for bad text. */
static unsigned char *b64_decode(const char *in, size_t *n)
{
    size_t len = strlen(in);
    if (len % 4 == 1)
        return NULL;
    unsigned char *out = malloc(len * 3 / 4 + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(in[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* Leftover bits must be zero, so each position has one spelling. */
    if (acc != 0) {
        free(out);
        return NULL;
    }
    *n = o;
    return out;
}

char *product_cursor_encode(const char *name, const char *id)
{
    json_t *a = json_pack("[ss]", name, id);
    char *text = a != NULL ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    if (text == NULL)
        return NULL;
    char *out = b64_encode((const unsigned char *)text, strlen(text));
    free(text);
    return out;
}

int product_cursor_decode(const char *text, product_cursor *out)
{
    memset(out, 0, sizeof(*out));
    if (strlen(text) > CURSOR_TEXT_MAX)
        return KR_EINVAL;
    size_t n;
    unsigned char *raw = b64_decode(text, &n);
    if (raw == NULL)
        return KR_EINVAL;
    json_t *a = json_loadb((const char *)raw, n, 0, NULL);
    free(raw);
    int rc = json_is_array(a) && json_array_size(a) == 2 && json_is_string(json_array_get(a, 0)) &&
                     json_is_string(json_array_get(a, 1)) &&
                     product_id_plausible(json_string_value(json_array_get(a, 1)))
                 ? KR_OK
                 : KR_EINVAL;
    if (rc == KR_OK) {
        out->name = strdup(json_string_value(json_array_get(a, 0)));
        out->id = strdup(json_string_value(json_array_get(a, 1)));
        if (out->name == NULL || out->id == NULL) {
            product_cursor_free(out);
            rc = KR_ENOMEM;
        }
    }
    json_decref(a);
    return rc;
}

void product_cursor_free(product_cursor *c)
{
    free(c->name);
    free(c->id);
    c->name = c->id = NULL;
}
