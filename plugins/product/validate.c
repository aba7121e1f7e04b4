/* product.so: what a client may send. Pure functions, no I/O.
 *
 * Writable fields are listed once in `fields`; anything else in a body is
 * refused by name, so a client can never set stock bookkeeping, ids or
 * timestamps (no mass assignment). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "product.h"

typedef enum kind {
    K_LINE,  /* one line of text */
    K_TEXT,  /* text that may span lines */
    K_URL,   /* http(s) URL */
    K_PRICE, /* integer paise */
    K_STOCK, /* integer count */
    K_BOOL,
} kind;

#define F_REQUIRED 0x1 /* must be given on create */
#define F_NULLABLE 0x2 /* optional: null (or absence) means none */
#define F_CREATE_ONLY 0x4

typedef struct field {
    const char *name;
    kind kind;
    int min, max; /* characters for text */
    const char *too_long;
    unsigned flags;
    const char *hint; /* F_CREATE_ONLY: where to change it instead */
} field;

static const field fields[] = {
    {PD_NAME, K_LINE, 1, 200, "must be at most 200 characters", F_REQUIRED, NULL},
    {PD_DESCRIPTION, K_TEXT, 0, 2000, "must be at most 2000 characters", F_NULLABLE, NULL},
    {PD_PRICE, K_PRICE, 0, 0, NULL, F_REQUIRED, NULL},
    {PD_UNIT, K_LINE, 1, 32, "must be at most 32 characters", F_NULLABLE, NULL},
    {PD_CATEGORY, K_LINE, 1, 64, "must be at most 64 characters", F_NULLABLE, NULL},
    {PD_IMAGE_URL, K_URL, 1, 2048, "must be at most 2048 characters", F_NULLABLE, NULL},
    {PD_STOCK, K_STOCK, 0, 0, NULL, F_CREATE_ONLY, "is read-only here: change it with POST /products/{id}/stock"},
    {PD_ACTIVE, K_BOOL, 0, 0, NULL, 0, NULL},
};

/* Known to clients from the admin view, but kept by the server. */
static const char *const read_only[] = {
    "id", PD_ID, PD_RESERVED, PD_COMMITTED, PD_SHIPPED, PD_HOLDS, PD_COMMITS, PD_CREATED_AT, PD_UPDATED_AT,
};

static const field *find_field(const char *name)
{
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (strcmp(fields[i].name, name) == 0)
            return &fields[i];
    return NULL;
}

static int is_read_only(const char *name)
{
    for (size_t i = 0; i < sizeof(read_only) / sizeof(read_only[0]); i++)
        if (strcmp(read_only[i], name) == 0)
            return 1;
    return 0;
}

/* Code points in valid UTF-8 (jansson only hands out valid UTF-8). */
static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* NULL when s is acceptable text of kind k, else the complaint. */
static const char *text_problem(const field *f, const char *s)
{
    size_t len = utf8_len(s);
    int blank = 1;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        /* Control characters break logs and UIs; only free text keeps
         * line breaks and tabs. */
        if ((*p < 0x20 || *p == 0x7f) && !(f->kind == K_TEXT && (*p == '\n' || *p == '\t' || *p == '\r')))
            return "must not contain control characters";
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            blank = 0;
    }
    if (len < (size_t)f->min || (f->min > 0 && blank))
        return "must not be empty";
    if (len > (size_t)f->max)
        return f->too_long;
    if (f->kind == K_URL) {
        if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)
            return "must be an http or https URL";
        if (strpbrk(s, " \"<>\\^`{|}") != NULL)
            return "must be an http or https URL";
    }
    return NULL;
}

static const char *value_problem(const field *f, const json_t *v)
{
    switch (f->kind) {
    case K_LINE:
    case K_TEXT:
    case K_URL:
        return json_is_string(v) ? text_problem(f, json_string_value(v)) : "must be a string";
    case K_PRICE:
        if (!json_is_integer(v))
            return "must be an integer number of paise";
        if (json_integer_value(v) <= 0 || json_integer_value(v) > PRODUCT_PRICE_MAX)
            return "must be between 1 and 1000000000 paise";
        return NULL;
    case K_STOCK:
        if (!json_is_integer(v))
            return "must be an integer";
        if (json_integer_value(v) < 0 || json_integer_value(v) > PRODUCT_STOCK_MAX)
            return "must be between 0 and 1000000000";
        return NULL;
    case K_BOOL:
        return json_is_boolean(v) ? NULL : "must be true or false";
    }
    return "is not valid";
}

/* Shared walk of a create or patch body. set gets the accepted values,
 * unset (patch only) the optional fields given as null. */
static int walk(const json_t *body, int create, json_t *set, json_t *unset, json_t **errors)
{
    const char *key;
    const json_t *v;
    int bad = 0;
    json_object_foreach((json_t *)body, key, v)
    {
        const field *f = find_field(key);
        const char *msg = NULL;
        if (f == NULL)
            msg = is_read_only(key) ? "is read-only" : "is not a known field";
        else if (!create && (f->flags & F_CREATE_ONLY))
            msg = f->hint;
        else if (json_is_null(v) && (f->flags & F_NULLABLE)) {
            if (!create)
                json_object_set_new(unset, key, json_string(""));
            continue;
        } else
            msg = value_problem(f, v);
        if (msg != NULL) {
            kr_invalid_add(errors, key, msg);
            bad = 1;
            continue;
        }
        json_object_set(set, key, (json_t *)v);
    }
    return bad;
}

int product_validate_create(const json_t *body, json_t **out, json_t **errors)
{
    *out = NULL;
    json_t *set = json_object();
    if (set == NULL)
        return KR_ENOMEM;
    int bad = walk(body, 1, set, NULL, errors);
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if ((fields[i].flags & F_REQUIRED) && json_object_get(body, fields[i].name) == NULL) {
            kr_invalid_add(errors, fields[i].name, "is required");
            bad = 1;
        }
    if (bad) {
        json_decref(set);
        return KR_EINVAL;
    }
    if (json_object_get(set, PD_STOCK) == NULL)
        json_object_set_new(set, PD_STOCK, json_integer(0));
    if (json_object_get(set, PD_ACTIVE) == NULL)
        json_object_set_new(set, PD_ACTIVE, json_true());
    *out = set;
    return KR_OK;
}

int product_validate_patch(const json_t *body, json_t **set_out, json_t **unset_out, json_t **errors)
{
    *set_out = *unset_out = NULL;
    json_t *set = json_object(), *unset = json_object();
    if (set == NULL || unset == NULL) {
        json_decref(set);
        json_decref(unset);
        return KR_ENOMEM;
    }
    if (walk(body, 0, set, unset, errors)) {
        json_decref(set);
        json_decref(unset);
        return KR_EINVAL;
    }
    *set_out = set;
    *unset_out = unset;
    return KR_OK;
}

int product_validate_restock(const json_t *body, json_int_t *delta, json_t **errors)
{
    const char *key;
    const json_t *v;
    int bad = 0;
    json_object_foreach((json_t *)body, key, v)
    {
        if (strcmp(key, "delta") != 0) {
            kr_invalid_add(errors, key, "is not a known field");
            bad = 1;
        }
    }
    const json_t *d = json_object_get(body, "delta");
    if (d == NULL) {
        kr_invalid_add(errors, "delta", "is required");
        return KR_EINVAL;
    }
    if (!json_is_integer(d)) {
        kr_invalid_add(errors, "delta", "must be an integer");
        return KR_EINVAL;
    }
    json_int_t n = json_integer_value(d);
    if (n == 0 || n < -PRODUCT_STOCK_MAX || n > PRODUCT_STOCK_MAX) {
        kr_invalid_add(errors, "delta", "must be a non-zero integer between -1000000000 and 1000000000");
        return KR_EINVAL;
    }
    if (bad)
        return KR_EINVAL;
    *delta = n;
    return KR_OK;
}

/* Strict decimal 1..PRODUCT_LIMIT_MAX: "20" yes; "", "+5", "5x", "020x" no. */
static int parse_limit(const char *s, int *out)
{
    if (s[0] == '\0' || strlen(s) > 3)
        return -1;
    int n = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        n = n * 10 + (*p - '0');
    }
    if (n < 1 || n > PRODUCT_LIMIT_MAX)
        return -1;
    *out = n;
    return 0;
}

int product_parse_list_query(const char *q, const char *category, const char *limit, const char *cursor,
                             const char *include_inactive, product_list_query *out, json_t **errors)
{
    memset(out, 0, sizeof(*out));
    out->limit = PRODUCT_LIMIT_DEFAULT;
    int bad = 0;
    /* An empty search box means no search. */
    if (q != NULL && q[0] != '\0') {
        if (utf8_len(q) > PRODUCT_Q_MAX) {
            kr_invalid_add(errors, "q", "is too long (at most 100 characters)");
            bad = 1;
        }
        out->q = q;
    }
    if (category != NULL) {
        const char *msg = text_problem(find_field(PD_CATEGORY), category);
        if (msg != NULL) {
            kr_invalid_add(errors, "category", msg);
            bad = 1;
        }
        out->category = category;
    }
    if (limit != NULL && parse_limit(limit, &out->limit) != 0) {
        kr_invalid_add(errors, "limit", "must be an integer from 1 to 100");
        bad = 1;
    }
    if (include_inactive != NULL) {
        if (strcmp(include_inactive, "true") == 0)
            out->include_inactive = 1;
        else if (strcmp(include_inactive, "false") != 0) {
            kr_invalid_add(errors, "include_inactive", "must be true or false");
            bad = 1;
        }
    }
    if (cursor != NULL) {
        int rc = product_cursor_decode(cursor, &out->after);
        if (rc == KR_ENOMEM)
            return rc;
        if (rc < 0) {
            kr_invalid_add(errors, "cursor", "is not a cursor this server handed out");
            bad = 1;
        } else
            out->has_cursor = 1;
    }
    if (bad) {
        product_list_query_free(out);
        return KR_EINVAL;
    }
    return KR_OK;
}

void product_list_query_free(product_list_query *lq)
{
    product_cursor_free(&lq->after);
    lq->has_cursor = 0;
}
