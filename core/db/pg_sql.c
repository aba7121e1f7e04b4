#include "core/db/pg_sql.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/err.h"

void krc_pg_sql_init(krc_pg_sql *q)
{
    memset(q, 0, sizeof(*q));
}

void krc_pg_sql_free(krc_pg_sql *q)
{
    for (int i = 0; i < q->nparams; i++)
        free(q->params[i]);
    free(q->params);
    free(q->text);
    memset(q, 0, sizeof(*q));
}

static void addn(krc_pg_sql *q, const char *s, size_t n)
{
    if (q->oom)
        return;
    if (q->len + n + 1 > q->cap) {
        size_t cap = q->cap ? q->cap : 256;
        while (cap < q->len + n + 1)
            cap *= 2;
        char *t = realloc(q->text, cap);
        if (t == NULL) {
            q->oom = 1;
            return;
        }
        q->text = t;
        q->cap = cap;
    }
    memcpy(q->text + q->len, s, n);
    q->len += n;
    q->text[q->len] = '\0';
}

void krc_pg_sql_add(krc_pg_sql *q, const char *s)
{
    addn(q, s, strlen(s));
}

void krc_pg_sql_addf(krc_pg_sql *q, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        q->oom = 1;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        addn(q, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (big == NULL) {
        q->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    addn(q, big, (size_t)n);
    free(big);
}

/* Takes ownership of value (NULL means it could not be allocated). */
static int push_param(krc_pg_sql *q, char *value)
{
    if (value == NULL || q->oom) {
        free(value);
        q->oom = 1;
        return 0;
    }
    if (q->nparams == q->pcap) {
        int cap = q->pcap ? q->pcap * 2 : 8;
        char **p = realloc(q->params, (size_t)cap * sizeof(*p));
        if (p == NULL) {
            free(value);
            q->oom = 1;
            return 0;
        }
        q->params = p;
        q->pcap = cap;
    }
    q->params[q->nparams++] = value;
    return q->nparams;
}

int krc_pg_sql_param(krc_pg_sql *q, const char *value)
{
    return push_param(q, strdup(value));
}

int krc_pg_sql_param_json(krc_pg_sql *q, const json_t *v)
{
    return push_param(q, json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY));
}

/* Appends s as a double-quoted array element: backslash before " and \. */
static void add_element(krc_pg_sql *buf, const char *s)
{
    addn(buf, "\"", 1);
    for (const char *p = s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            addn(buf, "\\", 1);
        addn(buf, p, 1);
    }
    addn(buf, "\"", 1);
}

int krc_pg_sql_param_array(krc_pg_sql *q, const json_t *values, int as_text)
{
    krc_pg_sql buf;
    krc_pg_sql_init(&buf);
    addn(&buf, "{", 1);
    size_t i;
    const json_t *v;
    json_array_foreach(values, i, v)
    {
        if (i > 0)
            addn(&buf, ",", 1);
        if (as_text) {
            add_element(&buf, json_string_value(v) != NULL ? json_string_value(v) : "");
            continue;
        }
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s == NULL) {
            buf.oom = 1;
            break;
        }
        add_element(&buf, s);
        free(s);
    }
    addn(&buf, "}", 1);
    int n = 0;
    if (buf.oom)
        q->oom = 1;
    else {
        n = push_param(q, buf.text);
        buf.text = NULL;
    }
    krc_pg_sql_free(&buf);
    return n;
}

int krc_pg_sql_alias(krc_pg_sql *q)
{
    return ++q->alias;
}

int krc_pg_sql_status(const krc_pg_sql *q)
{
    return q->oom ? krc_err_set(KR_ENOMEM, "out of memory while building a SQL statement") : 0;
}

const char *krc_pg_sql_text(const krc_pg_sql *q)
{
    return q->text != NULL ? q->text : "";
}
