#include "core/config/schema.h"

#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/err.h"

/* A growing location string for messages. Out of memory it stops growing:
 * a shortened location in an error beats no error. */
typedef struct locbuf {
    char *p;
    size_t n, cap;
} locbuf;

static void loc_addf(locbuf *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void loc_addf(locbuf *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0)
        return;
    if (l->n + (size_t)need + 1 > l->cap) {
        size_t cap = l->cap != 0 ? l->cap : 64;
        while (cap < l->n + (size_t)need + 1)
            cap *= 2;
        char *p = realloc(l->p, cap);
        if (p == NULL)
            return;
        l->p = p;
        l->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(l->p + l->n, l->cap - l->n, fmt, ap);
    va_end(ap);
    l->n += (size_t)need;
}

static void loc_cut(locbuf *l, size_t n)
{
    if (l->p != NULL && n <= l->n) {
        l->n = n;
        l->p[n] = '\0';
    }
}

static const char *loc_str(const locbuf *l)
{
    return l->p != NULL ? l->p : "";
}

static bool plain_key(const char *k)
{
    if (*k == '\0')
        return false;
    for (; *k != '\0'; k++)
        if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') || *k == '_' ||
              *k == '-'))
            return false;
    return true;
}

/* Appends .key (key alone at the start), or ["key"] when it has dots,
 * spaces or the like; returns the length to cut back to. */
static size_t loc_key(locbuf *l, const char *key)
{
    size_t mark = l->n;
    if (!plain_key(key))
        loc_addf(l, "[\"%s\"]", key);
    else
        loc_addf(l, "%s%s", l->n != 0 ? "." : "", key);
    return mark;
}

static size_t loc_index(locbuf *l, size_t i)
{
    size_t mark = l->n;
    loc_addf(l, "[%zu]", i);
    return mark;
}

/* --- validation --- */

typedef struct vctx {
    const krc_conf_doc *doc;
    locbuf loc;
    char *err;
    size_t errlen;
} vctx;

static int verr(vctx *v, int line, int col, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int verr(vctx *v, int line, int col, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return krc_conf_errorf(v->doc, line, col, loc_str(&v->loc), v->err, v->errlen, "%s", msg);
}

static const char *type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    default:
        return "null";
    }
}

static bool type_matches(const char *name, const json_t *j)
{
    if (strcmp(name, "number") == 0)
        return json_is_number(j);
    if (strcmp(name, "boolean") == 0)
        return json_is_boolean(j);
    return strcmp(name, type_name(j)) == 0;
}

static int check_type(vctx *v, const json_t *type, const json_t *inst, int line, int col)
{
    if (json_is_string(type)) {
        if (type_matches(json_string_value(type), inst))
            return 0;
        return verr(v, line, col, "expected %s, got %s", json_string_value(type), type_name(inst));
    }
    size_t i;
    const json_t *t;
    json_array_foreach(type, i, t)
    {
        if (type_matches(json_string_value(t), inst))
            return 0;
    }
    char want[256] = "";
    size_t off = 0;
    json_array_foreach(type, i, t)
    {
        int n = snprintf(want + off, sizeof(want) - off, "%s%s", i != 0 ? " or " : "", json_string_value(t));
        if (n < 0 || (size_t)n >= sizeof(want) - off)
            break;
        off += (size_t)n;
    }
    return verr(v, line, col, "expected %s, got %s", want, type_name(inst));
}

static int check_enum(vctx *v, const json_t *values, const json_t *inst, int line, int col)
{
    size_t i;
    const json_t *e;
    json_array_foreach(values, i, e)
    {
        if (json_equal(e, inst))
            return 0;
    }
    char list[400] = "";
    size_t off = 0;
    json_array_foreach(values, i, e)
    {
        char *s = json_dumps(e, JSON_ENCODE_ANY | JSON_COMPACT);
        int n = snprintf(list + off, sizeof(list) - off, "%s%s", i != 0 ? ", " : "", s != NULL ? s : "?");
        free(s);
        if (n < 0 || (size_t)n >= sizeof(list) - off)
            break;
        off += (size_t)n;
    }
    return verr(v, line, col, "must be one of %s", list);
}

/* <0, 0, >0 as a is below, equal to or above b; integers compare exactly. */
static int num_cmp(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return (x > y) - (x < y);
    }
    double x = json_number_value(a), y = json_number_value(b);
    return (x > y) - (x < y);
}

static int check_number(vctx *v, const json_t *schema, const json_t *inst, int line, int col)
{
    const json_t *min = json_object_get(schema, "minimum");
    const json_t *max = json_object_get(schema, "maximum");
    const json_t *bound = NULL;
    const char *op = NULL;
    if (min != NULL && num_cmp(inst, min) < 0)
        bound = min, op = ">=";
    else if (max != NULL && num_cmp(inst, max) > 0)
        bound = max, op = "<=";
    if (bound == NULL)
        return 0;
    char *s = json_dumps(bound, JSON_ENCODE_ANY);
    verr(v, line, col, "must be %s %s", op, s != NULL ? s : "?");
    free(s);
    return -1;
}

static size_t utf8_chars(const char *s, size_t n)
{
    size_t chars = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            chars++;
    return chars;
}

static int check_string(vctx *v, const json_t *schema, const json_t *inst, int line, int col)
{
    size_t len = utf8_chars(json_string_value(inst), json_string_length(inst));
    const json_t *min = json_object_get(schema, "minLength");
    const json_t *max = json_object_get(schema, "maxLength");
    const json_t *pattern = json_object_get(schema, "pattern");
    if (min != NULL && len < (size_t)json_integer_value(min))
        return verr(v, line, col, "must be at least %lld characters long", (long long)json_integer_value(min));
    if (max != NULL && len > (size_t)json_integer_value(max))
        return verr(v, line, col, "must be at most %lld characters long", (long long)json_integer_value(max));
    if (pattern == NULL)
        return 0;
    regex_t re;
    if (regcomp(&re, json_string_value(pattern), REG_EXTENDED | REG_NOSUB) != 0)
        return verr(v, line, col, "the schema's pattern \"%s\" does not compile", json_string_value(pattern));
    int rc = regexec(&re, json_string_value(inst), 0, NULL, 0);
    regfree(&re);
    if (rc != 0)
        return verr(v, line, col, "\"%s\" does not match the pattern \"%s\"", json_string_value(inst),
                    json_string_value(pattern));
    return 0;
}

static int validate(vctx *v, const json_t *schema, json_t *inst, int line, int col);

static int check_array(vctx *v, const json_t *schema, json_t *inst, int line, int col)
{
    size_t n = json_array_size(inst);
    const json_t *min = json_object_get(schema, "minItems");
    const json_t *max = json_object_get(schema, "maxItems");
    const json_t *items = json_object_get(schema, "items");
    if (min != NULL && n < (size_t)json_integer_value(min))
        return verr(v, line, col, "must have at least %lld item%s", (long long)json_integer_value(min),
                    json_integer_value(min) == 1 ? "" : "s");
    if (max != NULL && n > (size_t)json_integer_value(max))
        return verr(v, line, col, "must have at most %lld item%s", (long long)json_integer_value(max),
                    json_integer_value(max) == 1 ? "" : "s");
    if (items == NULL)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int l = line, c = col;
        krc_conf_member_pos(v->doc, inst, NULL, i, &l, &c);
        size_t mark = loc_index(&v->loc, i);
        int rc = validate(v, items, json_array_get(inst, i), l, c);
        loc_cut(&v->loc, mark);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Levenshtein distance, capped: only near misses earn a suggestion. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return SIZE_MAX;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static int unknown_key(vctx *v, const json_t *props, const json_t *inst, const char *key, int line, int col)
{
    krc_conf_key_pos(v->doc, inst, key, &line, &col);
    const char *best = NULL;
    size_t best_d = 3;
    const char *name;
    const json_t *sub;
    json_object_foreach((json_t *)props, name, sub)
    {
        size_t d = edit_distance(key, name);
        if (d < best_d && d < strlen(key)) {
            best = name;
            best_d = d;
        }
    }
    if (best != NULL)
        return verr(v, line, col, "unknown key \"%s\" (did you mean \"%s\"?)", key, best);
    return verr(v, line, col, "unknown key \"%s\"", key);
}

static int check_object(vctx *v, const json_t *schema, json_t *inst, int line, int col)
{
    const json_t *props = json_object_get(schema, "properties");
    const json_t *addl = json_object_get(schema, "additionalProperties");
    const json_t *required = json_object_get(schema, "required");
    const char *key;
    json_t *val;
    size_t i;
    const json_t *r;

    if (json_is_false(addl)) {
        json_object_foreach(inst, key, val)
        {
            if (json_object_get(props, key) == NULL)
                return unknown_key(v, props, inst, key, line, col);
        }
    }
    json_array_foreach(required, i, r)
    {
        if (json_object_get(inst, json_string_value(r)) == NULL)
            return verr(v, line, col, "missing required key \"%s\"", json_string_value(r));
    }
    json_object_foreach(inst, key, val)
    {
        const json_t *sub = json_object_get(props, key);
        if (sub == NULL && json_is_object(addl))
            sub = addl;
        if (sub == NULL)
            continue;
        int l = line, c = col;
        krc_conf_member_pos(v->doc, inst, key, 0, &l, &c);
        size_t mark = loc_key(&v->loc, key);
        int rc = validate(v, sub, val, l, c);
        loc_cut(&v->loc, mark);
        if (rc != 0)
            return rc;
    }
    const json_t *sub;
    json_object_foreach((json_t *)props, key, sub)
    {
        const json_t *def = json_object_get(sub, "default");
        if (def == NULL || json_object_get(inst, key) != NULL)
            continue;
        json_t *copy = json_deep_copy(def);
        if (copy == NULL || json_object_set_new(inst, key, copy) != 0)
            return verr(v, line, col, "out of memory");
        size_t mark = loc_key(&v->loc, key);
        int rc = validate(v, sub, copy, line, col);
        loc_cut(&v->loc, mark);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int validate(vctx *v, const json_t *schema, json_t *inst, int line, int col)
{
    const json_t *type = json_object_get(schema, "type");
    const json_t *values = json_object_get(schema, "enum");
    if (type != NULL && check_type(v, type, inst, line, col) != 0)
        return -1;
    if (values != NULL && check_enum(v, values, inst, line, col) != 0)
        return -1;
    if (json_is_number(inst))
        return check_number(v, schema, inst, line, col);
    if (json_is_string(inst))
        return check_string(v, schema, inst, line, col);
    if (json_is_array(inst))
        return check_array(v, schema, inst, line, col);
    if (json_is_object(inst))
        return check_object(v, schema, inst, line, col);
    return 0;
}

int krc_schema_validate(const json_t *schema, json_t *instance, const krc_conf_doc *doc, const char *where, char *err,
                        size_t errlen)
{
    vctx v = {.doc = doc, .err = err, .errlen = errlen};
    int line = 0, col = 0;
    krc_conf_pos(doc, instance, &line, &col);
    if (where != NULL)
        loc_addf(&v.loc, "%s", where);
    int rc = validate(&v, schema, instance, line, col);
    free(v.loc.p);
    return rc;
}

/* --- checking a schema --- */

typedef enum kw_kind {
    KW_TYPE,
    KW_PROPERTIES,
    KW_REQUIRED,
    KW_ADDITIONAL,
    KW_ITEMS,
    KW_ENUM,
    KW_NUMBER,
    KW_COUNT,
    KW_PATTERN,
    KW_ANY,
    KW_TEXT,
} kw_kind;

static const struct keyword {
    const char *name;
    kw_kind kind;
} keywords[] = {
    {"type", KW_TYPE},         {"properties", KW_PROPERTIES},
    {"required", KW_REQUIRED}, {"additionalProperties", KW_ADDITIONAL},
    {"items", KW_ITEMS},       {"enum", KW_ENUM},
    {"minimum", KW_NUMBER},    {"maximum", KW_NUMBER},
    {"minLength", KW_COUNT},   {"maxLength", KW_COUNT},
    {"minItems", KW_COUNT},    {"maxItems", KW_COUNT},
    {"pattern", KW_PATTERN},   {"default", KW_ANY},
    {"title", KW_TEXT},        {"description", KW_TEXT},
    {"$comment", KW_TEXT},
};

typedef struct sctx {
    locbuf ptr; /* JSON pointer of the schema being checked */
    char *err;
    size_t errlen;
} sctx;

static int serr(sctx *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int serr(sctx *s, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (s->ptr.n != 0)
        snprintf(s->err, s->errlen, "schema at %s: %s", loc_str(&s->ptr), msg);
    else
        snprintf(s->err, s->errlen, "schema: %s", msg);
    /* schema text (keys, the path to them, jansson's "near" token) may
     * hold control characters: the error stays one line */
    krc_err_one_line(s->err);
    return -1;
}

static bool known_type(const json_t *t)
{
    static const char *const names[] = {"null", "boolean", "object", "array", "number", "string", "integer"};
    if (!json_is_string(t))
        return false;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(json_string_value(t), names[i]) == 0)
            return true;
    return false;
}

static int check_schema(sctx *s, const json_t *schema);

static int check_sub(sctx *s, const char *a, const char *b, const json_t *schema)
{
    size_t mark = s->ptr.n;
    loc_addf(&s->ptr, "/%s", a);
    if (b != NULL)
        loc_addf(&s->ptr, "/%s", b);
    int rc = check_schema(s, schema);
    loc_cut(&s->ptr, mark);
    return rc;
}

/* glibc's regcomp expands every repetition of a repetition (a+ is aa*), so
 * "a++++..." costs 2^k memory: k = 20 took over 2 GB. POSIX leaves such
 * stacking undefined, so it is refused outright, and so are patterns with
 * more than 16 operators (nested groups multiply the same way). Brackets
 * and escapes are skipped; a bound {m,n} counts as one operator. */
static int stacked_repetition(const char *p)
{
    int prev_rep = 0, reps = 0;
    for (size_t i = 0; p[i] != '\0'; i++) {
        char c = p[i];
        int rep = 0;
        if (c == '\\') {
            if (p[i + 1] != '\0')
                i++;
        } else if (c == '[') {
            size_t j = i + 1;
            if (p[j] == '^')
                j++;
            if (p[j] == ']')
                j++;
            while (p[j] != '\0' && p[j] != ']')
                j++;
            i = p[j] != '\0' ? j : i;
        } else if (c == '*' || c == '+' || c == '?') {
            rep = 1;
        } else if (c == '{' && p[i + 1] >= '0' && p[i + 1] <= '9') {
            const char *close = strchr(p + i, '}');
            if (close != NULL) {
                i = (size_t)(close - p);
                rep = 1;
            }
        }
        if (rep && (prev_rep || ++reps > 16))
            return 1;
        prev_rep = rep;
    }
    return 0;
}

static int check_keyword(sctx *s, const char *name, kw_kind kind, const json_t *val)
{
    size_t i;
    const json_t *e;
    const char *key;
    switch (kind) {
    case KW_TYPE:
        if (json_is_array(val) && json_array_size(val) > 0) {
            json_array_foreach(val, i, e)
            {
                if (!known_type(e))
                    return serr(s, "\"type\" has an unknown type name");
            }
            return 0;
        }
        if (!known_type(val))
            return serr(s, "\"type\" must be one of null, boolean, object, array, number, string, integer, or a "
                           "non-empty array of them");
        return 0;
    case KW_PROPERTIES:
        if (!json_is_object(val))
            return serr(s, "\"properties\" must be an object of schemas");
        json_object_foreach((json_t *)val, key, e)
        {
            if (check_sub(s, "properties", key, e) != 0)
                return -1;
        }
        return 0;
    case KW_REQUIRED:
        if (!json_is_array(val))
            return serr(s, "\"required\" must be an array of strings");
        json_array_foreach(val, i, e)
        {
            if (!json_is_string(e))
                return serr(s, "\"required\" must be an array of strings");
        }
        return 0;
    case KW_ADDITIONAL:
        if (json_is_boolean(val))
            return 0;
        if (!json_is_object(val))
            return serr(s, "\"additionalProperties\" must be a boolean or a schema");
        return check_sub(s, "additionalProperties", NULL, val);
    case KW_ITEMS:
        if (!json_is_object(val))
            return serr(s, "\"items\" must be one schema for every element (the array form is not supported)");
        return check_sub(s, "items", NULL, val);
    case KW_ENUM:
        if (!json_is_array(val) || json_array_size(val) == 0)
            return serr(s, "\"enum\" must be a non-empty array");
        return 0;
    case KW_NUMBER:
        if (!json_is_number(val))
            return serr(s, "\"%s\" must be a number", name);
        return 0;
    case KW_COUNT:
        if (!json_is_integer(val) || json_integer_value(val) < 0)
            return serr(s, "\"%s\" must be a non-negative integer", name);
        return 0;
    case KW_PATTERN: {
        if (!json_is_string(val))
            return serr(s, "\"pattern\" must be a string");
        if (stacked_repetition(json_string_value(val)))
            return serr(s, "\"pattern\" stacks repetition operators (\"a++\", \"a*{2}\"; undefined in POSIX) "
                           "or has more than 16 of them");
        regex_t re;
        int rc = regcomp(&re, json_string_value(val), REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char why[128];
            regerror(rc, &re, why, sizeof(why));
            return serr(s, "\"pattern\" is not a POSIX extended regex: %s", why);
        }
        regfree(&re);
        return 0;
    }
    case KW_TEXT:
        if (!json_is_string(val))
            return serr(s, "\"%s\" must be a string", name);
        return 0;
    case KW_ANY:
        return 0;
    }
    return 0;
}

static int check_schema(sctx *s, const json_t *schema)
{
    if (!json_is_object(schema))
        return serr(s, "a schema must be a JSON object");
    const char *name;
    const json_t *val;
    json_object_foreach((json_t *)schema, name, val)
    {
        const struct keyword *kw = NULL;
        for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]) && kw == NULL; i++)
            if (strcmp(keywords[i].name, name) == 0)
                kw = &keywords[i];
        if (kw == NULL)
            return serr(s, "keyword \"%s\" is not supported (kirana/plugin.h lists the subset)", name);
        if (check_keyword(s, name, kw->kind, val) != 0)
            return -1;
    }
    /* Keywords are checked, so the default can be validated: a default that
     * breaks its own schema would only surface on some deployment. */
    const json_t *def = json_object_get(schema, "default");
    if (def == NULL)
        return 0;
    json_t *copy = json_deep_copy(def);
    char why[384];
    int rc = copy != NULL ? krc_schema_validate(schema, copy, NULL, NULL, why, sizeof(why)) : -1;
    json_decref(copy);
    if (rc != 0)
        return serr(s, "the default does not match: %s", copy != NULL ? why : "out of memory");
    return 0;
}

json_t *krc_schema_parse(const char *text, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *schema = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (schema == NULL) {
        snprintf(err, errlen, "schema: invalid JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        krc_err_one_line(err);
        return NULL;
    }
    sctx s = {.err = err, .errlen = errlen};
    int rc = check_schema(&s, schema);
    free(s.ptr.p);
    if (rc != 0) {
        json_decref(schema);
        return NULL;
    }
    return schema;
}
