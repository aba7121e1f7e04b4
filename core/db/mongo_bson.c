#include "core/db/mongo_bson.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util/err.h"

static int append(bson_t *b, const char *key, size_t keylen, const json_t *v, int depth);

static int too_big(void)
{
    return krc_err_set(KR_ETOOBIG, "document larger than BSON allows");
}

static int members(bson_t *b, const json_t *obj, int depth)
{
    const char *key;
    size_t keylen;
    const json_t *v;
    json_object_keylen_foreach((json_t *)obj, key, keylen, v)
    {
        if (strlen(key) != keylen)
            return krc_err_set(KR_EINVAL, "field names must not contain NUL characters");
        int rc = append(b, key, keylen, v, depth);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int elements(bson_t *b, const json_t *arr, int depth)
{
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
    {
        char buf[16];
        const char *key;
        size_t keylen = bson_uint32_to_string((uint32_t)i, &key, buf, sizeof(buf));
        int rc = append(b, key, keylen, v, depth);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int append(bson_t *b, const char *key, size_t keylen, const json_t *v, int depth)
{
    if (depth > KRC_MONGO_BSON_DEPTH)
        return krc_err_set(KR_EINVAL, "document nested deeper than %d", KRC_MONGO_BSON_DEPTH);
    int klen = (int)keylen;
    bool ok = true;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
    case JSON_ARRAY: {
        bson_t sub;
        int obj = json_is_object(v);
        if (!(obj ? bson_append_document_begin(b, key, klen, &sub) : bson_append_array_begin(b, key, klen, &sub)))
            return too_big();
        int rc = obj ? members(&sub, v, depth + 1) : elements(&sub, v, depth + 1);
        ok = obj ? bson_append_document_end(b, &sub) : bson_append_array_end(b, &sub);
        if (rc != 0)
            return rc;
        break;
    }
    case JSON_STRING:
        ok = bson_append_utf8(b, key, klen, json_string_value(v), (int)json_string_length(v));
        break;
    case JSON_INTEGER: {
        json_int_t n = json_integer_value(v);
        ok = n >= INT32_MIN && n <= INT32_MAX ? bson_append_int32(b, key, klen, (int32_t)n)
                                              : bson_append_int64(b, key, klen, (int64_t)n);
        break;
    }
    case JSON_REAL:
        ok = bson_append_double(b, key, klen, json_real_value(v));
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        ok = bson_append_bool(b, key, klen, json_is_true(v));
        break;
    case JSON_NULL:
        ok = bson_append_null(b, key, klen);
        break;
    }
    return ok ? 0 : too_big();
}

int krc_mongo_bson_append_object(bson_t *b, const json_t *obj)
{
    return members(b, obj, 1);
}

int krc_mongo_bson_append_value(bson_t *b, const char *key, const json_t *v)
{
    return append(b, key, strlen(key), v, 1);
}

/* ---- BSON to JSON ---- */

static int from_iter(const bson_iter_t *it, json_t **out, int depth);

static int nomem(void)
{
    return krc_err_set(KR_ENOMEM, "out of memory");
}

static int string_value(const char *s, size_t len, json_t **out)
{
    if (!bson_utf8_validate(s, len, true))
        return krc_err_set(KR_EINTERNAL, "mongodb: a stored string is not valid UTF-8");
    *out = json_stringn_nocheck(s, len);
    return *out != NULL ? 0 : nomem();
}

/* ISO 8601 in UTC with milliseconds, as JavaScript's toISOString writes. */
static int date_value(int64_t ms, json_t **out)
{
    int64_t secs = ms / 1000, rem = ms % 1000;
    if (rem < 0) {
        rem += 1000;
        secs--;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) {
        *out = json_null();
        return 0;
    }
    char buf[64];
    snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (int)rem);
    *out = json_string(buf);
    return *out != NULL ? 0 : nomem();
}

static int binary_value(const bson_iter_t *it, json_t **out)
{
    bson_subtype_t sub;
    uint32_t len;
    const uint8_t *data;
    bson_iter_binary(it, &sub, &len, &data);
    size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *buf = malloc(cap);
    if (buf == NULL)
        return nomem();
    sodium_bin2base64(buf, cap, data, len, sodium_base64_VARIANT_ORIGINAL);
    *out = json_string(buf);
    free(buf);
    return *out != NULL ? 0 : nomem();
}

static int real_value(double d, json_t **out)
{
    *out = isfinite(d) ? json_real(d) : json_null();
    return *out != NULL ? 0 : nomem();
}

/* obj[key at it] = v (v is consumed). */
static int set_member(json_t *obj, const bson_iter_t *it, json_t *v)
{
    if (json_object_setn_new(obj, bson_iter_key(it), bson_iter_key_len(it), v) != 0)
        return krc_err_set(KR_EINTERNAL, "mongodb: a stored field name is not valid UTF-8");
    return 0;
}

static int container(const bson_iter_t *it, json_t **out, int depth)
{
    if (depth > KRC_MONGO_BSON_DEPTH)
        return krc_err_set(KR_EINTERNAL, "mongodb: a stored document is nested deeper than %d", KRC_MONGO_BSON_DEPTH);
    int obj = BSON_ITER_HOLDS_DOCUMENT(it);
    bson_iter_t sub;
    if (!bson_iter_recurse(it, &sub))
        return krc_err_set(KR_EINTERNAL, "mongodb: corrupt BSON");
    json_t *c = obj ? json_object() : json_array();
    if (c == NULL)
        return nomem();
    while (bson_iter_next(&sub)) {
        json_t *v;
        int rc = from_iter(&sub, &v, depth + 1);
        if (rc == 0)
            rc = obj ? set_member(c, &sub, v) : json_array_append_new(c, v) == 0 ? 0 : nomem();
        if (rc != 0) {
            json_decref(c);
            return rc;
        }
    }
    *out = c;
    return 0;
}

static int from_iter(const bson_iter_t *it, json_t **out, int depth)
{
    uint32_t len;
    switch (bson_iter_type(it)) {
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY:
        return container(it, out, depth);
    case BSON_TYPE_UTF8: {
        const char *s = bson_iter_utf8(it, &len);
        return string_value(s, len, out);
    }
    case BSON_TYPE_INT32:
        *out = json_integer(bson_iter_int32(it));
        break;
    case BSON_TYPE_INT64:
        *out = json_integer(bson_iter_int64(it));
        break;
    case BSON_TYPE_DOUBLE:
        return real_value(bson_iter_double(it), out);
    case BSON_TYPE_DECIMAL128: {
        bson_decimal128_t dec;
        char text[BSON_DECIMAL128_STRING];
        bson_iter_decimal128(it, &dec);
        bson_decimal128_to_string(&dec, text);
        return real_value(strtod(text, NULL), out);
    }
    case BSON_TYPE_BOOL:
        *out = json_boolean(bson_iter_bool(it));
        break;
    case BSON_TYPE_OID: {
        char hex[25];
        bson_oid_to_string(bson_iter_oid(it), hex);
        *out = json_string(hex);
        break;
    }
    case BSON_TYPE_DATE_TIME:
        return date_value(bson_iter_date_time(it), out);
    case BSON_TYPE_BINARY:
        return binary_value(it, out);
    case BSON_TYPE_REGEX: {
        const char *pattern = bson_iter_regex(it, NULL);
        return string_value(pattern, strlen(pattern), out);
    }
    case BSON_TYPE_CODE: {
        const char *s = bson_iter_code(it, &len);
        return string_value(s, len, out);
    }
    case BSON_TYPE_CODEWSCOPE: {
        uint32_t scope_len;
        const uint8_t *scope;
        const char *s = bson_iter_codewscope(it, &len, &scope_len, &scope);
        return string_value(s, len, out);
    }
    case BSON_TYPE_SYMBOL: {
        const char *s = bson_iter_symbol(it, &len);
        return string_value(s, len, out);
    }
    case BSON_TYPE_TIMESTAMP: {
        uint32_t t, inc;
        bson_iter_timestamp(it, &t, &inc);
        *out = json_integer(t);
        break;
    }
    default: /* null, undefined, MinKey, MaxKey, DBPointer */
        *out = json_null();
        break;
    }
    return *out != NULL ? 0 : nomem();
}

int krc_mongo_json_from_iter(const bson_iter_t *it, json_t **out)
{
    return from_iter(it, out, 1);
}

int krc_mongo_json_from_bson(const bson_t *b, json_t **out)
{
    bson_iter_t it;
    if (!bson_iter_init(&it, b))
        return krc_err_set(KR_EINTERNAL, "mongodb: corrupt BSON");
    json_t *obj = json_object();
    if (obj == NULL)
        return nomem();
    while (bson_iter_next(&it)) {
        json_t *v;
        int rc = from_iter(&it, &v, 1);
        if (rc == 0)
            rc = set_member(obj, &it, v);
        if (rc != 0) {
            json_decref(obj);
            return rc;
        }
    }
    *out = obj;
    return 0;
}
