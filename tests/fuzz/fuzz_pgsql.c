/* Fuzz target: the PostgreSQL backend's compilers from MongoDB-style JSON to
 * SQL (core/db/pg_filter.c, pg_update.c, pg_sort.c, pg_regex.c, pg_sql.c)
 * and projections (core/db/projection.c).
 *
 * The input is one JSON value, compiled in every role: filter (with and
 * without the id column), $pull condition, update (inserting or not) or
 * replacement, sort, projection. The oracle:
 *
 *   - the result is 0, or KR_EINVAL with a one-line message;
 *   - values never reach the SQL text: the input is compiled a second time
 *     with every value replaced by a canary (strings by "zq`K<n>Qz", numbers
 *     other than -1, 0 and 1 by 9137000000 + n), and the text must be byte
 *     for byte the same and hold no string canary; only the parameters
 *     differ. The
 *     values kept are the ones that choose the shape of the SQL (a sort
 *     direction, $exists 0/1, whether a string holds a NUL, $options);
 *   - the text is printable ASCII, with balanced quotes and parentheses,
 *     no ';' or comment; its quoted literals hold no quote or backslash
 *     (nothing in them needed escaping); every $n outside them is in
 *     1..nparams and every parameter is used;
 *   - a projection applied to the input (when an object) and to a fixed
 *     document gives an object, and applying it again changes nothing. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/db/pg_filter.h"
#include "core/db/pg_regex.h"
#include "core/db/pg_sort.h"
#include "core/db/pg_update.h"
#include "core/db/projection.h"
#include "core/util/err.h"

#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "pgsql oracle: %s (line %d)\n", #cond, __LINE__);                                         \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fputc('\n', stderr);                                                                                       \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

/* a backtick: never in a checked path nor in the SQL we write */
#define CANARY "zq`K"

/* A string that survives as C text, as pg_filter.c decides it. */
static int has_nul(const json_t *s)
{
    return strlen(json_string_value(s)) != json_string_length(s);
}

/* v with every value replaced by a canary (new reference). `key` is the
 * member name v was found under, or NULL. */
static json_t *canary(const json_t *v, const char *key, int *n)
{
    char buf[64];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) json_object_set_new(o, k, canary(x, k, n));
        return o;
    }
    case JSON_ARRAY: {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) json_array_append_new(a, canary(x, NULL, n));
        return a;
    }
    case JSON_STRING: {
        if (key != NULL && strcmp(key, "$options") == 0)
            return json_incref((json_t *)v);
        if (key != NULL && strcmp(key, "$regex") == 0) {
            /* keep a pattern that fails to translate: the error decides */
            char *are = NULL;
            int rc = has_nul(v) ? KR_EINVAL : krc_pg_regex(json_string_value(v), NULL, &are);
            free(are);
            if (rc != 0)
                return json_incref((json_t *)v);
        }
        int len = snprintf(buf, sizeof(buf), CANARY "%dQz", ++*n);
        if (has_nul(v)) {
            buf[len] = '\0';
            return json_stringn(buf, (size_t)len + 1);
        }
        return json_string(buf);
    }
    case JSON_INTEGER: {
        json_int_t i = json_integer_value(v);
        return i >= -1 && i <= 1 ? json_integer(i) : json_integer(9137000000LL + ++*n);
    }
    case JSON_REAL: {
        double d = json_real_value(v);
        return d == -1 || d == 0 || d == 1 ? json_real(d) : json_real(9137000000.5 + ++*n);
    }
    default:
        return json_incref((json_t *)v);
    }
}

static void check_error(int rc, const char *role)
{
    CHECK(rc == KR_EINVAL, "%s: rc %d (%s)", role, rc, krc_err_msg());
    const char *m = krc_err_msg();
    CHECK(m != NULL && m[0] != '\0' && strchr(m, '\n') == NULL, "%s: error message '%s'", role, m ? m : "(null)");
}

/* The text of a compiled statement, as the oracle wants it. */
static void check_sql(const krc_pg_sql *q, const char *role)
{
    const char *sql = krc_pg_sql_text(q);
    char *used = calloc((size_t)q->nparams + 1, 1);
    int depth = 0;
    CHECK(strstr(sql, CANARY) == NULL, "%s: a value reached the SQL:\n%s", role, sql);
    for (const char *p = sql; *p != '\0'; p++) {
        CHECK(*p >= 0x20 && *p < 0x7f, "%s: byte 0x%02x in the SQL:\n%s", role, (unsigned char)*p, sql);
        if (*p == '\'') {
            const char *end = strchr(p + 1, '\'');
            CHECK(end != NULL, "%s: unbalanced quote in\n%s", role, sql);
            CHECK(memchr(p + 1, '\\', (size_t)(end - p - 1)) == NULL, "%s: backslash in a literal:\n%s", role, sql);
            /* '' (an escaped quote) would be read as two literals here; a
             * literal never directly follows another in what we write */
            CHECK(end[1] != '\'', "%s: escaped quote in\n%s", role, sql);
            p = end;
            continue;
        }
        CHECK(*p != ';' && !(p[0] == '-' && p[1] == '-') && !(p[0] == '/' && p[1] == '*'),
              "%s: ';' or a comment in\n%s", role, sql);
        if (*p == '(')
            depth++;
        if (*p == ')')
            CHECK(--depth >= 0, "%s: unbalanced ')' in\n%s", role, sql);
        if (*p == '$') {
            CHECK(isdigit((unsigned char)p[1]), "%s: '$' without a number outside a literal:\n%s", role, sql);
            long n = strtol(p + 1, NULL, 10);
            CHECK(n >= 1 && n <= q->nparams, "%s: $%ld with %d parameters:\n%s", role, n, q->nparams, sql);
            used[n] = 1;
        }
    }
    CHECK(depth == 0, "%s: unbalanced '(' in\n%s", role, sql);
    for (int i = 1; i <= q->nparams; i++)
        CHECK(used[i], "%s: parameter $%d is never used:\n%s", role, i, sql);
    for (int i = 0; i < q->nparams; i++)
        CHECK(q->params[i] != NULL, "%s: parameter %d is NULL", role, i + 1);
    free(used);
}

/* compile() for a role that does not apply to this input */
#define SKIPPED 1

enum role { FILTER, FILTER_NO_ID, PULL, UPDATE, UPSERT, SORT, NROLES };
static const char *const role_names[] = {"filter", "filter without id", "$pull", "update", "upsert", "sort"};

static int compile(enum role r, krc_pg_sql *q, const json_t *in)
{
    krc_pg_sql_init(q);
    krc_err_clear();
    switch (r) {
    case FILTER:
        return krc_pg_filter(q, in, "doc", "id");
    case FILTER_NO_ID:
        return krc_pg_filter(q, in, "e1.x", NULL);
    case PULL:
        return krc_pg_filter_pull(q, in, "e1.x");
    case UPDATE:
    case UPSERT: {
        if (!json_is_object(in))
            return SKIPPED; /* the SDK refuses a non-object before the backend */
        int repl = krc_pg_update_is_replacement(in);
        if (repl < 0)
            return repl;
        if (repl)
            return krc_pg_update_replace(q, in, "t.doc");
        return krc_pg_update(q, in, "t.doc", r == UPSERT);
    }
    case SORT:
        return krc_pg_sort(q, in, "doc", "id");
    default:
        return SKIPPED;
    }
}

static void check_role(enum role r, const json_t *in, const json_t *can)
{
    krc_pg_sql a, b;
    int ra = compile(r, &a, in);
    if (ra < 0)
        check_error(ra, role_names[r]);
    int rb = compile(r, &b, can);
    if (rb < 0)
        check_error(rb, role_names[r]);
    CHECK(ra == rb, "%s: %d for the input, %d with canaries (%s)", role_names[r], ra, rb, krc_err_msg());
    if (ra == 0) {
        check_sql(&a, role_names[r]);
        check_sql(&b, role_names[r]);
        CHECK(strcmp(krc_pg_sql_text(&a), krc_pg_sql_text(&b)) == 0 && a.nparams == b.nparams,
              "%s: the SQL depends on a value:\n%s\n---- with canaries:\n%s", role_names[r], krc_pg_sql_text(&a),
              krc_pg_sql_text(&b));
    }
    krc_pg_sql_free(&a);
    krc_pg_sql_free(&b);
}

static void check_projection(const json_t *spec)
{
    static json_t *sample;
    if (sample == NULL)
        sample = json_loads("{\"_id\":\"p1\",\"name\":\"Milk\",\"price\":5,\"a\":{\"b\":[1,{\"c\":2,\"d\":[3]},{\"c\":4}],"
                            "\"e\":null},\"tags\":[\"x\",{\"k\":1}],\"n\":{\"0\":{\"1\":true}}}",
                            0, NULL);
    krc_db_projection *p = NULL;
    krc_err_clear();
    int rc = krc_db_projection_compile(spec, &p);
    if (rc != 0) {
        check_error(rc, "projection");
        CHECK(p == NULL, "projection: a result with an error");
        return;
    }
    const json_t *docs[] = {sample, json_is_object(spec) ? spec : NULL};
    for (size_t i = 0; i < 2 && docs[i] != NULL; i++) {
        json_t *once = krc_db_projection_apply(p, docs[i]);
        CHECK(json_is_object(once), "projection: not an object");
        json_t *twice = krc_db_projection_apply(p, once);
        CHECK(json_equal(once, twice), "projection: not idempotent");
        json_decref(once);
        json_decref(twice);
    }
    krc_db_projection_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    json_t *in = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (in == NULL)
        return 0;
    int n = 0;
    json_t *can = canary(in, NULL, &n);
    for (enum role r = 0; r < NROLES; r++)
        check_role(r, in, can);
    check_projection(in);
    json_decref(can);
    json_decref(in);
    return 0;
}
