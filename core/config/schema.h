/* Core: the JSON Schema subset that checks the core config and each
 * plugin's `config:` block.
 *
 * Keywords: type (a name or an array of names among null, boolean, object,
 * array, number, string, integer), properties, required,
 * additionalProperties (a boolean or a schema), items (one schema for every
 * element), enum, minimum, maximum (inclusive), minLength, maxLength
 * (characters), minItems, maxItems, pattern (POSIX extended regex, matching
 * anywhere unless anchored), default; title, description and $comment are
 * accepted as annotations. As in JSON Schema, a keyword constrains only
 * instances of its kind (minLength ignores numbers) and "integer" means a
 * number written without a fraction or exponent.
 *
 * Validation stops at the first error and fills defaults on the way: an
 * object missing a property whose schema has a default gets a deep copy of
 * it, itself validated (which fills the defaults nested in it). */
#ifndef KRC_CONFIG_SCHEMA_H
#define KRC_CONFIG_SCHEMA_H

#include <jansson.h>
#include <stddef.h>

#include "core/config/yaml.h"

/* any. Parses and checks a schema: unknown keywords, ill-typed keyword
 * values, bad patterns and defaults that fail their own schema are refused
 * with one line naming the place ("schema at /properties/port: ...").
 * Caller-owned (json_decref); NULL with the error in err. */
json_t *krc_schema_parse(const char *text, char *err, size_t errlen);

/* any. Validates instance (a tree of doc, or any tree when doc is NULL)
 * against a schema from krc_schema_parse, filling defaults into it. where
 * names the instance in messages ("plugins[0].config"; NULL or "" for the
 * root). 0, or -1 with one line in err:
 * "FILE:LINE:COL: where.path[2].key: message", positioned at the offending
 * value, or at the key for an unknown key; a filled-in default has its
 * parent's position. */
int krc_schema_validate(const json_t *schema, json_t *instance, const krc_conf_doc *doc, const char *where, char *err,
                        size_t errlen);

#endif
