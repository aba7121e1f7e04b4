/* Fuzz target: JSON request bodies (core/server/json.c, the parser behind
 * kr_req_json) against jansson itself.
 *
 * Input: one byte picks the depth limit (1..40), the rest is the body. The
 * pre-scan that enforces the limit must never change the answer for a body
 * jansson accepts as an object within the limit, and must refuse every
 * object nested deeper; what it accepts must survive a round trip. Depth,
 * size, numbers and unicode come from the input (see json.dict). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/server/json.h"

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "json model disagrees: %s (line %d)\n", #cond, __LINE__);                                  \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

/* Nesting of containers: {} and [] count 1, scalars 0. */
static int depth(const json_t *v)
{
    int d = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach((json_t *)v, k, c)
        {
            int cd = depth(c);
            d = cd > d ? cd : d;
        }
        return d + 1;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c)
        {
            int cd = depth(c);
            d = cd > d ? cd : d;
        }
        return d + 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int max_depth = 1 + data[0] % 40;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    json_t *out = NULL;
    char err[256];
    err[0] = '\0';
    int rc = krc_json_parse_object(body, len, max_depth, &out, err, sizeof(err));

    /* jansson's own limit (2048) is far above any max_depth here */
    json_error_t je;
    json_t *ref = len > 0 ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &je) : NULL;
    int acceptable = ref != NULL && json_is_object(ref) && depth(ref) <= max_depth;
    if (rc == 0) {
        CHECK(acceptable);
        CHECK(out != NULL && json_equal(out, ref));
        char *dump = json_dumps(out, JSON_COMPACT);
        CHECK(dump != NULL);
        json_t *again = NULL;
        CHECK(krc_json_parse_object(dump, strlen(dump), max_depth, &again, err, sizeof(err)) == 0);
        CHECK(json_equal(again, out));
        json_decref(again);
        free(dump);
    } else {
        CHECK(rc == -1 && out == NULL);
        CHECK(!acceptable);
        CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
    }
    json_decref(out);
    json_decref(ref);
    return 0;
}
