/* Random filters and updates for the compiler tests: mostly plain names
 * and known operators, with hostile names, unknown operators and values
 * that all carry MARK mixed in. Deterministic (fixed seed). */
#ifndef KIRANA_TEST_DB_GEN_H
#define KIRANA_TEST_DB_GEN_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint64_t seed = 0x9e3779b97f4a7c15ULL;

static inline uint32_t rnd(uint32_t n)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return (uint32_t)(seed % n);
}

/* Every value carries this marker; it must never appear in SQL text. */
#define MARK "zq'\"\\;--"

static const char *const names[] = {"a",    "b.c", "holds.order", "x.0.y", "_id", "a b", "a'--",
                                    "a\"b", "$where", "a..b", "", "n1", "é", "a.$b",
                                    "$and", "$or", "$nor", "$in", "$gt", "$regex"};
static const char *const ops[] = {"$eq",     "$ne",    "$gt",      "$gte", "$lt",        "$lte",  "$in", "$nin",
                                  "$exists", "$regex", "$options", "$not", "$elemMatch", "$size", "$foo"};
static const char *const plain[] = {"a", "b.c", "holds.order", "x.0.y", "n1", "q"};

/* A top-level name of plain[], for documents. */
static inline const char *name_plain(void)
{
    static const char *const top[] = {"a", "b", "x", "n1", "q", "holds"};
    return top[rnd(sizeof(top) / sizeof(top[0]))];
}

/* Mostly plain names, so that much of the input compiles. */
static inline const char *name(void)
{
    if (rnd(4) != 0)
        return plain[rnd(sizeof(plain) / sizeof(plain[0]))];
    return names[rnd(sizeof(names) / sizeof(names[0]))];
}

static inline const char *name_for_sort(void)
{
    return rnd(8) ? plain[rnd(sizeof(plain) / sizeof(plain[0]))] : "a b";
}

static const char *const uops[] = {"$set",      "$unset",       "$inc",    "$push", "$pull",
                                   "$addToSet", "$setOnInsert", "$rename", "$max",  "$bad"};

static inline json_t *value(int depth)
{
    char s[64];
    snprintf(s, sizeof(s), MARK "%u", rnd(1000));
    switch (rnd(depth > 2 ? 5 : 8)) {
    case 0:
        return json_string(s);
    case 1:
        return json_integer((json_int_t)rnd(100) - 50);
    case 2:
        return json_real(rnd(1000) / 7.0);
    case 3:
        return json_null();
    case 4:
        return json_boolean(rnd(2));
    case 5: {
        json_t *a = json_array();
        for (uint32_t i = rnd(4); i > 0; i--)
            json_array_append_new(a, value(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (uint32_t i = rnd(3); i > 0; i--) {
            const char *k =
                rnd(2) ? names[rnd(sizeof(names) / sizeof(names[0]))] : ops[rnd(sizeof(ops) / sizeof(ops[0]))];
            json_object_set_new(o, k, value(depth + 1));
        }
        return o;
    }
    }
}

static inline json_t *filter(int depth)
{
    json_t *f = json_object();
    for (uint32_t i = rnd(4); i > 0; i--) {
        const char *k = names[rnd(sizeof(names) / sizeof(names[0]))];
        if ((strcmp(k, "$and") == 0 || strcmp(k, "$or") == 0 || strcmp(k, "$nor") == 0) && depth < 3) {
            json_t *a = json_array();
            for (uint32_t j = rnd(3) + 1; j > 0; j--)
                json_array_append_new(a, filter(depth + 1));
            json_object_set_new(f, k, a);
        } else if (rnd(2)) {
            json_t *o = json_object();
            for (uint32_t j = rnd(3) + 1; j > 0; j--)
                json_object_set_new(o, ops[rnd(sizeof(ops) / sizeof(ops[0]))], value(depth + 1));
            json_object_set_new(f, k, o);
        } else {
            json_object_set_new(f, k, value(depth + 1));
        }
    }
    return f;
}

static inline json_t *update(void)
{
    json_t *u = json_object();
    for (uint32_t i = rnd(3) + 1; i > 0; i--) {
        json_t *fields = json_object();
        for (uint32_t j = rnd(3) + 1; j > 0; j--)
            json_object_set_new(fields, name(), value(1));
        json_object_set_new(u, uops[rnd(rnd(2) ? 7 : sizeof(uops) / sizeof(uops[0]))], fields);
    }
    return u;
}

#endif
