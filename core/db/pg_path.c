#include "core/db/pg_path.h"

#include <stdio.h>
#include <string.h>

#include "core/db/path.h"

int krc_pg_path_is_top(const char *path)
{
    return path[0] != '\0' && strchr(path, '.') == NULL && !krc_db_path_seg_is_index(path, strlen(path));
}

void krc_pg_path_jsonpath(krc_pg_sql *q, const char *path, const char *suffix)
{
    krc_pg_sql_add(q, "'$");
    for (const char *s = path; *s != '\0';) {
        const char *dot = strchr(s, '.');
        int n = dot != NULL ? (int)(dot - s) : (int)strlen(s);
        if (s != path && krc_db_path_seg_is_index(s, (size_t)n))
            krc_pg_sql_addf(q, "[%.*s]", n, s);
        else
            krc_pg_sql_addf(q, ".\"%.*s\"", n, s);
        if (dot == NULL)
            break;
        s = dot + 1;
    }
    krc_pg_sql_addf(q, "%s'::jsonpath", suffix);
}

void krc_pg_path_array(krc_pg_sql *q, const char *path)
{
    char buf[KRC_DB_PATH_MAX + 1];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf; *p != '\0'; p++)
        if (*p == '.')
            *p = ',';
    krc_pg_sql_addf(q, "'{%s}'::text[]", buf);
}

void krc_pg_path_get(krc_pg_sql *q, const char *doc, const char *path)
{
    if (strchr(path, '.') == NULL) {
        krc_pg_sql_addf(q, "(%s->'%s')", doc, path);
        return;
    }
    krc_pg_sql_addf(q, "(%s #> ", doc);
    krc_pg_path_array(q, path);
    krc_pg_sql_add(q, ")");
}
