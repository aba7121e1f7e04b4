#include "core/config/yaml.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

/* Deep enough for any config; shallow enough that the recursive jansson
 * and validator walks cannot exhaust the stack on hostile input. */
#define MAX_DEPTH 64
#define MAX_FILE_BYTES (16u << 20)
/* The index of a node's own position entry, as opposed to its members'. */
#define NODE_ENTRY SIZE_MAX

/* Positions live beside the tree, keyed by node address: jansson nodes have
 * no room for them. Members are keyed by (parent, key or index) because
 * true, false and null are singletons whose address says nothing. */
typedef struct pos_entry {
    const void *node; /* NULL: free slot */
    char *key;
    size_t index;
    int line, col;
    int kline, kcol;
} pos_entry;

struct krc_conf_doc {
    char *file;
    json_t *root;
    pos_entry *pos;
    size_t npos, cap; /* cap is a power of two */
};

static size_t pos_hash(const void *node, const char *key, size_t index)
{
    uint64_t h = (uint64_t)(uintptr_t)node * 0x9E3779B97F4A7C15ull;
    h ^= (uint64_t)index + 0x632BE59BD9B4E019ull + (h << 6) + (h >> 2);
    if (key != NULL)
        for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++)
            h = (h ^ *p) * 0x100000001B3ull;
    h ^= h >> 29;
    return (size_t)h;
}

static pos_entry *pos_slot(pos_entry *tab, size_t cap, const void *node, const char *key, size_t index)
{
    size_t mask = cap - 1;
    for (size_t i = pos_hash(node, key, index) & mask;; i = (i + 1) & mask) {
        pos_entry *e = &tab[i];
        if (e->node == NULL)
            return e;
        if (e->node == node && e->index == index &&
            (e->key == key || (e->key != NULL && key != NULL && strcmp(e->key, key) == 0)))
            return e;
    }
}

static const pos_entry *pos_get(const krc_conf_doc *d, const void *node, const char *key, size_t index)
{
    if (d == NULL || node == NULL || d->cap == 0)
        return NULL;
    const pos_entry *e = pos_slot(d->pos, d->cap, node, key, index);
    return e->node != NULL ? e : NULL;
}

static int pos_grow(krc_conf_doc *d)
{
    size_t cap = d->cap != 0 ? d->cap * 2 : 64;
    pos_entry *tab = calloc(cap, sizeof(*tab));
    if (tab == NULL)
        return -1;
    for (size_t i = 0; i < d->cap; i++) {
        pos_entry *e = &d->pos[i];
        if (e->node != NULL)
            *pos_slot(tab, cap, e->node, e->key, e->index) = *e;
    }
    free(d->pos);
    d->pos = tab;
    d->cap = cap;
    return 0;
}

/* The entry for (node, key, index), created if new; NULL when out of memory. */
static pos_entry *pos_put(krc_conf_doc *d, const void *node, const char *key, size_t index)
{
    if ((d->npos + 1) * 4 > d->cap * 3 && pos_grow(d) != 0)
        return NULL;
    pos_entry *e = pos_slot(d->pos, d->cap, node, key, index);
    if (e->node == NULL) {
        char *k = NULL;
        if (key != NULL && (k = strdup(key)) == NULL)
            return NULL;
        *e = (pos_entry){.node = node, .key = k, .index = index};
        d->npos++;
    }
    return e;
}

static int verrorf(const krc_conf_doc *d, int line, int col, const char *where, char *err, size_t errlen,
                   const char *fmt, va_list ap)
{
    if (err == NULL || errlen == 0)
        return -1;
    size_t off = 0;
    int n = 0;
    if (d != NULL && line > 0)
        n = snprintf(err, errlen, "%s:%d:%d: ", d->file, line, col);
    else if (d != NULL)
        n = snprintf(err, errlen, "%s: ", d->file);
    off = n > 0 ? (size_t)n : 0;
    if (where != NULL && *where != '\0' && off < errlen) {
        n = snprintf(err + off, errlen - off, "%s: ", where);
        off += n > 0 ? (size_t)n : 0;
    }
    if (off < errlen)
        vsnprintf(err + off, errlen - off, fmt, ap);
    /* Keys and values quoted in messages may hold line breaks; an error is
     * always one line. */
    for (char *p = err; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    return -1;
}

int krc_conf_errorf(const krc_conf_doc *d, int line, int col, const char *where, char *err, size_t errlen,
                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verrorf(d, line, col, where, err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

json_t *krc_conf_root(const krc_conf_doc *d)
{
    return d->root;
}

const char *krc_conf_file(const krc_conf_doc *d)
{
    return d->file;
}

static int pos_out(const pos_entry *e, bool key, int *line, int *col)
{
    if (e == NULL)
        return -1;
    *line = key ? e->kline : e->line;
    *col = key ? e->kcol : e->col;
    return 0;
}

int krc_conf_pos(const krc_conf_doc *d, const json_t *node, int *line, int *col)
{
    return pos_out(pos_get(d, node, NULL, NODE_ENTRY), false, line, col);
}

int krc_conf_member_pos(const krc_conf_doc *d, const json_t *parent, const char *key, size_t index, int *line, int *col)
{
    if (json_is_object(parent))
        return pos_out(key != NULL ? pos_get(d, parent, key, 0) : NULL, false, line, col);
    return pos_out(pos_get(d, parent, NULL, index), false, line, col);
}

int krc_conf_key_pos(const krc_conf_doc *d, const json_t *obj, const char *key, int *line, int *col)
{
    return pos_out(json_is_object(obj) && key != NULL ? pos_get(d, obj, key, 0) : NULL, true, line, col);
}

int krc_conf_set_pos(krc_conf_doc *d, const json_t *node, int line, int col)
{
    pos_entry *e = pos_put(d, node, NULL, NODE_ENTRY);
    if (e == NULL)
        return -1;
    e->line = line;
    e->col = col;
    return 0;
}

void krc_conf_free(krc_conf_doc *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->cap; i++)
        free(d->pos[i].key);
    free(d->pos);
    json_decref(d->root);
    free(d->file);
    free(d);
}

/* --- building the tree from parser events --- */

typedef struct frame {
    json_t *node;
    char *key; /* mapping: the key awaiting its value, NULL while a key is due */
    int kline, kcol;
} frame;

typedef struct builder {
    krc_conf_doc *d;
    frame stack[MAX_DEPTH];
    int depth;
    int docs;
    char *err;
    size_t errlen;
} builder;

static int fail(builder *b, yaml_mark_t m, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(builder *b, yaml_mark_t m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verrorf(b->d, (int)m.line + 1, (int)m.column + 1, NULL, b->err, b->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int oom(builder *b, yaml_mark_t m)
{
    return fail(b, m, "out of memory");
}

static frame *top(builder *b)
{
    return b->depth > 0 ? &b->stack[b->depth - 1] : NULL;
}

static bool key_due(builder *b)
{
    frame *f = top(b);
    return f != NULL && json_is_object(f->node) && f->key == NULL;
}

/* Places v (stolen) where the parser is: the root, the next element of the
 * open sequence, or the value of the pending key. */
static int add_value(builder *b, json_t *v, yaml_mark_t m)
{
    if (v == NULL)
        return oom(b, m);
    int line = (int)m.line + 1, col = (int)m.column + 1;
    bool singleton = json_is_null(v) || json_is_boolean(v);
    if (!singleton && krc_conf_set_pos(b->d, v, line, col) != 0) {
        json_decref(v);
        return oom(b, m);
    }
    frame *f = top(b);
    pos_entry *e;
    if (f == NULL) {
        b->d->root = v;
        return 0;
    }
    if (json_is_array(f->node)) {
        size_t i = json_array_size(f->node);
        if (json_array_append_new(f->node, v) != 0)
            return oom(b, m);
        e = pos_put(b->d, f->node, NULL, i);
    } else {
        char *key = f->key;
        f->key = NULL;
        if (json_object_set_new(f->node, key, v) != 0) {
            free(key);
            return oom(b, m);
        }
        e = pos_put(b->d, f->node, key, 0);
        free(key);
        if (e != NULL) {
            e->kline = f->kline;
            e->kcol = f->kcol;
        }
    }
    if (e == NULL)
        return oom(b, m);
    e->line = line;
    e->col = col;
    return 0;
}

static int on_key(builder *b, const char *s, size_t n, yaml_mark_t m)
{
    frame *f = top(b);
    int line, col;
    if (json_object_get(f->node, s) != NULL) {
        krc_conf_key_pos(b->d, f->node, s, &line, &col);
        return fail(b, m, "duplicate key \"%s\" (first at %d:%d)", s, line, col);
    }
    if ((f->key = strndup(s, n)) == NULL)
        return oom(b, m);
    f->kline = (int)m.line + 1;
    f->kcol = (int)m.column + 1;
    return 0;
}

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static int sb_add(sbuf *sb, const char *s, size_t n)
{
    if (sb->n + n + 1 > sb->cap) {
        size_t cap = sb->cap != 0 ? sb->cap : 64;
        while (cap < sb->n + n + 1)
            cap *= 2;
        char *p = realloc(sb->p, cap);
        if (p == NULL)
            return -1;
        sb->p = p;
        sb->cap = cap;
    }
    memcpy(sb->p + sb->n, s, n);
    sb->n += n;
    sb->p[sb->n] = '\0';
    return 0;
}

static bool name_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}
static bool name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* One ${...} starting at s[i] == '$', s[i + 1] == '{'; appends its value and
 * returns the index after it, or -1 with the error set. */
static long expand_ref(builder *b, const char *s, size_t n, size_t i, yaml_mark_t m, sbuf *out)
{
    size_t j = i + 2;
    if (j < n && name_start(s[j]))
        while (j < n && name_char(s[j]))
            j++;
    size_t name_len = j - (i + 2);
    const char *def = NULL;
    size_t defn = 0;
    if (name_len > 0 && j + 1 < n && s[j] == ':' && s[j + 1] == '-') {
        def = s + j + 2;
        const char *close = memchr(def, '}', n - (j + 2));
        if (close == NULL)
            return fail(b, m, "unterminated ${%.*s (missing \"}\")", (int)name_len, s + i + 2);
        defn = (size_t)(close - def);
        for (size_t k = 0; k + 1 < defn; k++)
            if (def[k] == '$' && def[k + 1] == '{')
                return fail(b, m, "${...} inside the default of ${%.*s:-...} is not supported", (int)name_len,
                            s + i + 2);
        j = (size_t)(close - s);
    }
    if (name_len == 0 || j >= n || s[j] != '}') {
        if (name_len > 0 && j >= n)
            return fail(b, m, "unterminated ${%.*s (missing \"}\")", (int)name_len, s + i + 2);
        return fail(b, m, "malformed ${...}: expected ${NAME} or ${NAME:-default} (write $$ for a literal $)");
    }
    char *name = strndup(s + i + 2, name_len);
    if (name == NULL)
        return oom(b, m);
    const char *val = getenv(name);
    if (val == NULL && def == NULL) {
        fail(b, m, "environment variable %s is not set (give a default with ${%s:-value})", name, name);
        free(name);
        return -1;
    }
    free(name);
    bool use_val = val != NULL && (def == NULL || *val != '\0');
    if ((use_val ? sb_add(out, val, strlen(val)) : sb_add(out, def, defn)) != 0)
        return oom(b, m);
    return (long)j + 1;
}

/* The scalar with ${...} and $$ replaced; *out is malloc'd, NUL-terminated. */
static int expand(builder *b, const char *s, size_t n, yaml_mark_t m, char **out, size_t *outn)
{
    sbuf sb = {0};
    size_t i = 0;
    if (sb_add(&sb, "", 0) != 0)
        return oom(b, m);
    while (i < n) {
        const char *dollar = memchr(s + i, '$', n - i);
        size_t run = dollar != NULL ? (size_t)(dollar - (s + i)) : n - i;
        if (sb_add(&sb, s + i, run) != 0)
            goto nomem;
        i += run;
        if (i == n)
            break;
        if (i + 1 < n && s[i + 1] == '$') {
            if (sb_add(&sb, "$", 1) != 0)
                goto nomem;
            i += 2;
        } else if (i + 1 < n && s[i + 1] == '{') {
            long next = expand_ref(b, s, n, i, m, &sb);
            if (next < 0) {
                free(sb.p);
                return -1;
            }
            i = (size_t)next;
        } else {
            if (sb_add(&sb, "$", 1) != 0)
                goto nomem;
            i++;
        }
    }
    *out = sb.p;
    *outn = sb.n;
    return 0;
nomem:
    free(sb.p);
    return oom(b, m);
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

static bool is_one_of(const char *s, const char *const *words)
{
    for (; *words != NULL; words++)
        if (strcmp(s, *words) == 0)
            return true;
    return false;
}

static bool all_digits(const char *s, int base)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        int c = (unsigned char)*s;
        bool ok = base == 16 ? isxdigit(c) : (c >= '0' && c < '0' + base);
        if (!ok)
            return false;
    }
    return true;
}

/* [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
static bool is_float(const char *s)
{
    if (*s == '-' || *s == '+')
        s++;
    size_t lead = strspn(s, "0123456789");
    s += lead;
    if (*s == '.') {
        size_t frac = strspn(s + 1, "0123456789");
        if (lead == 0 && frac == 0)
            return false;
        s += 1 + frac;
    } else if (lead == 0) {
        return false;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+')
            s++;
        size_t exp = strspn(s, "0123456789");
        if (exp == 0)
            return false;
        s += exp;
    }
    return *s == '\0';
}

/* A plain scalar (NUL-terminated, after expansion) typed by the YAML 1.2
 * core schema. */
static int type_plain(builder *b, const char *s, yaml_mark_t m, json_t **out)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"true", "True", "TRUE", NULL};
    static const char *const falses[] = {"false", "False", "FALSE", NULL};
    static const char *const specials[] = {".inf",  ".Inf",  ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
                                           "-.Inf", "-.INF", ".nan", ".NaN",  ".NAN",  NULL};
    if (is_one_of(s, nulls)) {
        *out = json_null();
        return 0;
    }
    if (is_one_of(s, trues) || is_one_of(s, falses)) {
        *out = json_boolean(is_one_of(s, trues));
        return 0;
    }
    int base = 0;
    const char *digits = s;
    if (s[0] == '0' && s[1] == 'o' && all_digits(s + 2, 8))
        base = 8, digits = s + 2;
    else if (s[0] == '0' && s[1] == 'x' && all_digits(s + 2, 16))
        base = 16, digits = s + 2;
    else if (all_digits(s + (*s == '-' || *s == '+'), 10))
        base = 10;
    if (base != 0) {
        errno = 0;
        long long v = strtoll(digits, NULL, base);
        if (errno == ERANGE)
            return fail(b, m, "integer %s is out of range (64-bit)", s);
        *out = json_integer(v);
        return *out != NULL ? 0 : oom(b, m);
    }
    if (is_one_of(s, specials))
        return fail(b, m, "%s: infinities and NaN are not supported", s);
    if (is_float(s)) {
        errno = 0;
        double v = strtod(s, NULL);
        if (errno == ERANGE && isinf(v))
            return fail(b, m, "number %s is out of range", s);
        *out = json_real(v);
        return *out != NULL ? 0 : oom(b, m);
    }
    *out = json_string(s);
    return *out != NULL ? 0 : oom(b, m);
}

static int on_scalar(builder *b, const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    yaml_mark_t m = ev->start_mark;
    const char *tag = (const char *)ev->data.scalar.tag;
    bool as_string = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    if (ev->data.scalar.anchor != NULL)
        return fail(b, m, "anchors (&%s) are not supported", ev->data.scalar.anchor);
    if (tag != NULL) {
        if (strcmp(tag, "!") != 0 && strcmp(tag, YAML_STR_TAG) != 0)
            return fail(b, m, "tag %s is not supported (only !!str)", tag);
        as_string = true;
    }
    if (memchr(s, '\0', n) != NULL)
        return fail(b, m, "NUL characters are not supported");
    if (key_due(b))
        return on_key(b, s, n, m);
    char *x = NULL;
    size_t xn = 0;
    if (expand(b, s, n, m, &x, &xn) != 0)
        return -1;
    json_t *v = NULL;
    int rc = 0;
    if (memchr(x, '\0', xn) != NULL)
        rc = fail(b, m, "the value of an environment variable holds a NUL character");
    else if (!utf8_valid((const unsigned char *)x, xn))
        rc = fail(b, m, "not valid UTF-8 after ${...} expansion");
    else if (as_string)
        rc = (v = json_stringn(x, xn)) != NULL ? 0 : oom(b, m);
    else
        rc = type_plain(b, x, m, &v);
    free(x);
    return rc != 0 ? -1 : add_value(b, v, m);
}

static int on_start(builder *b, const yaml_event_t *ev, bool mapping)
{
    yaml_mark_t m = ev->start_mark;
    const yaml_char_t *anchor = mapping ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
    const yaml_char_t *tag = mapping ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
    if (anchor != NULL)
        return fail(b, m, "anchors (&%s) are not supported", anchor);
    if (tag != NULL)
        return fail(b, m, "tag %s is not supported (only !!str)", tag);
    if (key_due(b))
        return fail(b, m, "a mapping key must be a scalar, not a %s", mapping ? "mapping" : "sequence");
    if (b->depth == MAX_DEPTH)
        return fail(b, m, "nesting deeper than %d levels is not supported", MAX_DEPTH);
    json_t *v = mapping ? json_object() : json_array();
    if (add_value(b, v, m) != 0)
        return -1;
    b->stack[b->depth++] = (frame){.node = v};
    return 0;
}

/* libyaml reports reader errors (bad encoding, control characters) as a
 * byte offset only. */
static void offset_pos(const char *text, size_t len, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

static int parser_error(builder *b, const yaml_parser_t *p, const char *text, size_t len)
{
    int line, col;
    switch (p->error) {
    case YAML_READER_ERROR:
        offset_pos(text, len, p->problem_offset, &line, &col);
        if (p->problem_value != -1)
            return krc_conf_errorf(b->d, line, col, NULL, b->err, b->errlen, "%s (byte 0x%02x)", p->problem,
                                   (unsigned)p->problem_value);
        return krc_conf_errorf(b->d, line, col, NULL, b->err, b->errlen, "%s", p->problem);
    case YAML_SCANNER_ERROR:
    case YAML_PARSER_ERROR:
        if (p->context != NULL)
            return fail(b, p->problem_mark, "%s (%s at %d:%d)", p->problem, p->context, (int)p->context_mark.line + 1,
                        (int)p->context_mark.column + 1);
        return fail(b, p->problem_mark, "%s", p->problem);
    default:
        return krc_conf_errorf(b->d, 0, 0, NULL, b->err, b->errlen, "out of memory while parsing");
    }
}

krc_conf_doc *krc_conf_parse(const char *name, const char *text, size_t len, char *err, size_t errlen)
{
    krc_conf_doc *d = calloc(1, sizeof(*d));
    if (d == NULL || (d->file = strdup(name)) == NULL || pos_grow(d) != 0) {
        krc_conf_free(d);
        snprintf(err, errlen, "%s: out of memory", name);
        return NULL;
    }
    builder b = {.d = d, .err = err, .errlen = errlen};
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        krc_conf_free(d);
        snprintf(err, errlen, "%s: out of memory", name);
        return NULL;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int rc = 0;
    bool done = false;
    while (!done && rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rc = parser_error(&b, &p, text, len);
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (b.docs++ > 0)
                rc = fail(&b, ev.start_mark, "a second document; a config file holds exactly one");
            break;
        case YAML_ALIAS_EVENT:
            rc = fail(&b, ev.start_mark, "aliases (*%s) are not supported", ev.data.alias.anchor);
            break;
        case YAML_SCALAR_EVENT:
            rc = on_scalar(&b, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            rc = on_start(&b, &ev, ev.type == YAML_MAPPING_START_EVENT);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            b.depth--;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    for (int i = 0; i < b.depth; i++)
        free(b.stack[i].key);
    if (rc != 0) {
        krc_conf_free(d);
        return NULL;
    }
    if (d->root == NULL)
        d->root = json_null();
    return d;
}

krc_conf_doc *krc_conf_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    char *buf = NULL;
    krc_conf_doc *d = NULL;
    if (fstat(fileno(f), &st) != 0) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
    } else if ((uintmax_t)st.st_size > MAX_FILE_BYTES) {
        snprintf(err, errlen, "%s: larger than %u MiB", path, MAX_FILE_BYTES >> 20);
    } else if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
    } else {
        size_t n = fread(buf, 1, (size_t)st.st_size, f);
        if (ferror(f))
            snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        else
            d = krc_conf_parse(path, buf, n, err, errlen);
    }
    free(buf);
    fclose(f);
    return d;
}
