/* Fuzz target: auth.so's phone normaliser (plugins/auth/phone.c), which
 * turns what people type into the E.164 key of Redis and `users`.
 *
 * The first byte picks a country allow-list (one the config schema
 * allows: 1-3 digits, not starting with 0); the rest is the phone number.
 * The oracle: an accepted number is '+' and 7..15 digits, not starting
 * with 0, whose digits are exactly the input's digits after its '+' or
 * '00', starting with an allowed country code (the longest match), meeting
 * that country's mobile rule where phone.c has one; normalising it again
 * gives it back (idempotent); a refusal comes with a reason, and
 * AUTH_PHONE_NOT_ALLOWED only for a well-formed number of another country. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "phone oracle: %s (line %d)\n", #cond, __LINE__);                                         \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fputc('\n', stderr);                                                                                       \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

static const char *const in_only[] = {"91", NULL};
static const char *const several[] = {"91", "1", "44", "971", "65", NULL};
static const char *const unlisted[] = {"49", "33", "7", NULL};
static const char *const nested[] = {"9", "97", "971", NULL}; /* not prefix-free: the longest wins */
static const char *const *const lists[] = {in_only, several, unlisted, nested};

/* The mobile rules phone.c documents, for the countries it has them. */
static int mobile_ok(const char *cc, const char *nsn)
{
    static const struct {
        const char *cc, *first;
        size_t len;
    } rules[] = {{"91", "6789", 10}, {"1", "23456789", 10}, {"44", "7", 10}, {"971", "5", 9}, {"65", "89", 8}};
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
        if (strcmp(rules[i].cc, cc) == 0)
            return strlen(nsn) == rules[i].len && nsn[0] != '\0' && strchr(rules[i].first, nsn[0]) != NULL;
    return strlen(nsn) >= 4;
}

/* The input's digits after its leading spaces and '+' or "00", or NULL
 * when it does not start that way. */
static char *digits_after_prefix(const char *in)
{
    while (*in == ' ')
        in++;
    if (*in == '+')
        in++;
    else if (in[0] == '0' && in[1] == '0')
        in += 2;
    else
        return NULL;
    char *d = malloc(strlen(in) + 1);
    size_t n = 0;
    for (; *in != '\0'; in++)
        if (*in >= '0' && *in <= '9')
            d[n++] = *in;
    d[n] = '\0';
    return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 256)
        return 0;
    const char *const *countries = lists[data[0] % (sizeof(lists) / sizeof(lists[0]))];
    char *in = malloc(size);
    memcpy(in, data + 1, size - 1);
    in[size - 1] = '\0';

    char out[AUTH_PHONE_MAX + 1];
    memset(out, 'x', sizeof(out));
    const char *why = "unset";
    auth_phone_rc rc = auth_phone_normalize(in, countries, out, &why);
    CHECK(rc == AUTH_PHONE_OK || rc == AUTH_PHONE_INVALID || rc == AUTH_PHONE_NOT_ALLOWED, "rc %d", (int)rc);
    char *digits = digits_after_prefix(in);
    if (rc != AUTH_PHONE_OK) {
        CHECK(why != NULL && why[0] != '\0' && strcmp(why, "unset") != 0, "refused '%s' without a reason", in);
        if (rc == AUTH_PHONE_NOT_ALLOWED)
            CHECK(digits != NULL && strlen(digits) >= 7 && strlen(digits) <= 15 && digits[0] != '0',
                  "'%s' refused as another country's but it is not well formed", in);
        free(digits);
        free(in);
        return 0;
    }
    CHECK(why == NULL, "accepted '%s' with a reason", in);
    size_t len = strnlen(out, sizeof(out));
    CHECK(len < sizeof(out), "'%s' gave an unterminated result", in);
    CHECK(out[0] == '+' && len >= 8 && len <= 16 && out[1] != '0', "'%s' gave '%s'", in, out);
    for (size_t i = 1; i < len; i++)
        CHECK(out[i] >= '0' && out[i] <= '9', "'%s' gave '%s'", in, out);
    CHECK(strlen(in) <= 40, "accepted an input of %zu bytes", strlen(in));
    CHECK(digits != NULL && strcmp(digits, out + 1) == 0, "'%s' gave '%s': digits changed", in, out);

    const char *cc = NULL;
    for (const char *const *c = countries; *c != NULL; c++)
        if (strncmp(out + 1, *c, strlen(*c)) == 0 && (cc == NULL || strlen(*c) > strlen(cc)))
            cc = *c;
    CHECK(cc != NULL, "'%s' gave '%s', not of an allowed country", in, out);
    CHECK(mobile_ok(cc, out + 1 + strlen(cc)), "'%s' gave '%s', not a mobile of +%s", in, out, cc);

    char again[AUTH_PHONE_MAX + 1];
    const char *why2 = "unset";
    CHECK(auth_phone_normalize(out, countries, again, &why2) == AUTH_PHONE_OK && strcmp(again, out) == 0,
          "normalising '%s' again gave %s", out, why2 ? why2 : again);
    free(digits);
    free(in);
    return 0;
}
