#include "core/server/json.h"

#include <stdio.h>

/* Nesting depth outside strings; -1 when unbalanced in a way the parser
 * will report anyway (the parser gives the better message). */
static int max_nesting(const char *s, size_t len, int limit)
{
    int depth = 0, max = 0;
    int in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max) {
                max = depth;
                if (max > limit)
                    return max;
            }
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

int krc_json_parse_object(const char *buf, size_t len, int max_depth, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (len == 0) {
        snprintf(err, errlen, "the request body is empty; a JSON object is expected");
        return -1;
    }
    if (max_nesting(buf, len, max_depth) > max_depth) {
        snprintf(err, errlen, "the JSON body is nested deeper than %d levels", max_depth);
        return -1;
    }
    json_error_t je;
    json_t *v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (v == NULL) {
        snprintf(err, errlen, "the body is not valid JSON: %s at line %d column %d", je.text, je.line, je.column);
        return -1;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        snprintf(err, errlen, "the JSON body must be an object");
        return -1;
    }
    *out = v;
    return 0;
}
