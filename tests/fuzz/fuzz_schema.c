/* Fuzz target: the JSON-Schema subset (core/config/schema.c) that checks
 * each plugin's `config:` block, with the YAML reader in front of it.
 *
 * Input: a schema (JSON text), a NUL byte, then a YAML document. A schema
 * krc_schema_parse accepts is used to validate the document. Validation
 * fills defaults, so a document that passed once must pass again and come
 * out unchanged; every refusal is one line. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config/schema.h"
#include "core/config/yaml.h"

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "schema invariant broken: %s (line %d)\n", #cond, __LINE__);                               \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

/* glibc's regcomp copies the subtree under every repetition (a+ is aa*,
 * a{3} is aaa), so k stacked or nested repetitions cost 2^k: the first run
 * found "^https?++++++++++++++++++://" taking 2 GB. krc_schema_parse now
 * refuses stacked repetitions and more than 16 operators; nested groups
 * under that bound still cost up to 2^16 copies each, slow enough to look
 * like a hang to the fuzzer, so the target keeps skipping schemas with
 * more than 8. */
static int repetitions(const char *s, size_t len)
{
    int n = 0;
    for (size_t i = 0; i < len; i++)
        n += s[i] == '+' || s[i] == '*' || s[i] == '?' ||
             (s[i] == '{' && i + 1 < len && s[i + 1] >= '0' && s[i + 1] <= '9');
    return n;
}

static void one_line(const char *err)
{
    CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(text, '\0', size);
    if (nul == NULL || repetitions(text, (size_t)(nul - text)) > 8)
        return 0;
    char err[1024];
    err[0] = '\0';
    json_t *schema = krc_schema_parse(text, err, sizeof(err));
    if (schema == NULL) {
        one_line(err);
        return 0;
    }
    const char *yaml = nul + 1;
    size_t ylen = size - (size_t)(yaml - text);
    krc_conf_doc *doc = krc_conf_parse("fuzz.yaml", yaml, ylen, err, sizeof(err));
    if (doc == NULL) {
        one_line(err);
        CHECK(strncmp(err, "fuzz.yaml", 9) == 0);
        json_decref(schema);
        return 0;
    }
    json_t *root = krc_conf_root(doc);
    if (krc_schema_validate(schema, root, doc, "plugins[0].config", err, sizeof(err)) == 0) {
        json_t *once = json_deep_copy(root);
        CHECK(krc_schema_validate(schema, root, doc, "plugins[0].config", err, sizeof(err)) == 0);
        CHECK(json_equal(once, root));
        json_decref(once);
    } else {
        one_line(err);
        CHECK(strncmp(err, "fuzz.yaml", 9) == 0);
    }
    krc_conf_free(doc);
    json_decref(schema);
    return 0;
}
