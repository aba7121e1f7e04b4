#include "core/db/upsert.h"

#include <stdio.h>
#include <string.h>

#include "core/db/path.h"
#include "core/util/err.h"

static int set_path(json_t *doc, const char *path, const json_t *value)
{
    char buf[KRC_DB_PATH_MAX + 1];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *node = doc;
    char *save = NULL;
    for (char *seg = strtok_r(buf, ".", &save); seg != NULL; seg = strtok_r(NULL, ".", &save)) {
        json_t *sub = json_object_get(node, seg);
        if (*save == '\0') {
            if (sub != NULL)
                return krc_err_set(KR_EINVAL, "upsert: the filter sets %s twice", path);
            return json_object_set_new(node, seg, json_deep_copy(value)) == 0 ? 0
                                                                              : krc_err_set(KR_ENOMEM, "out of memory");
        }
        if (sub == NULL) {
            sub = json_object();
            if (sub == NULL || json_object_set_new(node, seg, sub) != 0)
                return krc_err_set(KR_ENOMEM, "out of memory");
        } else if (!json_is_object(sub)) {
            return krc_err_set(KR_EINVAL, "upsert: the filter sets %s inside a value it also sets", path);
        }
        node = sub;
    }
    return 0;
}

static int collect(json_t *doc, const json_t *filter)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)filter, key, v)
    {
        int rc = 0;
        if (strcmp(key, "$and") == 0) {
            size_t i;
            const json_t *sub;
            json_array_foreach(v, i, sub)
            {
                if (rc == 0 && json_is_object(sub))
                    rc = collect(doc, sub);
            }
        } else if (key[0] == '$' || krc_db_path_check(key, "filter") != 0) {
            continue;
        } else if (!json_is_object(v) || json_object_size(v) == 0 ||
                   json_object_iter_key(json_object_iter((json_t *)v))[0] != '$') {
            rc = set_path(doc, key, v);
        } else if (json_object_get(v, "$eq") != NULL) {
            rc = set_path(doc, key, json_object_get(v, "$eq"));
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

int krc_db_upsert_base(const json_t *filter, json_t **out)
{
    *out = json_object();
    if (*out == NULL)
        return krc_err_set(KR_ENOMEM, "out of memory");
    int rc = filter != NULL ? collect(*out, filter) : 0;
    if (rc != 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}
