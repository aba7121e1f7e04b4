/* Phone numbers: what people type ("+91 98765-43210", "0091 (98765)
 * 43210") becomes E.164 ("+919876543210"), the one form used as a key in
 * Redis and the `users` collection. */
#include <string.h>

#include "auth.h"

#define INPUT_MAX 40

/* National significant number rules for the countries this service is
 * likely to allow. SMS needs a mobile, so where mobiles have their own
 * leading digits the rule says so. Countries not listed get only E.164's
 * length bounds. */
static const struct national {
    const char *cc;
    int len;
    const char *first; /* allowed leading digits */
} nationals[] = {
    {"91", 10, "6789"},    /* India: mobiles 6-9 */
    {"1", 10, "23456789"}, /* NANP: area codes never start with 0 or 1 */
    {"44", 10, "7"},       /* UK mobiles: 07xxx xxxxxx */
    {"971", 9, "5"},       /* UAE mobiles: 05x */
    {"65", 8, "89"},       /* Singapore mobiles */
};

static const struct national *national_of(const char *cc)
{
    for (size_t i = 0; i < sizeof(nationals) / sizeof(nationals[0]); i++)
        if (strcmp(nationals[i].cc, cc) == 0)
            return &nationals[i];
    return NULL;
}

auth_phone_rc auth_phone_normalize(const char *in, const char *const *countries, char out[AUTH_PHONE_MAX + 1],
                                   const char **why)
{
    size_t inlen = strlen(in);
    if (inlen > INPUT_MAX) {
        *why = "is too long";
        return AUTH_PHONE_INVALID;
    }
    while (*in == ' ')
        in++;
    int intl = 0;
    if (*in == '+') {
        intl = 1;
        in++;
    } else if (in[0] == '0' && in[1] == '0') {
        intl = 1;
        in += 2;
    }
    if (!intl) {
        *why = "must start with + and the country code";
        return AUTH_PHONE_INVALID;
    }
    char digits[INPUT_MAX + 1];
    size_t n = 0;
    for (; *in != '\0'; in++) {
        if (*in >= '0' && *in <= '9')
            digits[n++] = *in;
        else if (strchr(" -.()", *in) == NULL) {
            *why = "may hold only digits, spaces, dashes, dots and parentheses after the +";
            return AUTH_PHONE_INVALID;
        }
    }
    digits[n] = '\0';
    if (n == 0 || digits[0] == '0') {
        *why = "must start with + and the country code";
        return AUTH_PHONE_INVALID;
    }
    /* E.164: at most 15 digits; the shortest numbers in use have 7. */
    if (n < 7 || n > 15) {
        *why = n < 7 ? "is too short" : "is too long";
        return AUTH_PHONE_INVALID;
    }
    /* Country calling codes are prefix-free, so one entry of the allow-list
     * matches at most; the longest wins should a list break that rule. */
    const char *cc = NULL;
    for (const char *const *c = countries; *c != NULL; c++)
        if (strncmp(digits, *c, strlen(*c)) == 0 && (cc == NULL || strlen(*c) > strlen(cc)))
            cc = *c;
    if (cc == NULL) {
        *why = "is from a country this service does not serve";
        return AUTH_PHONE_NOT_ALLOWED;
    }
    const char *nsn = digits + strlen(cc);
    const struct national *rule = national_of(cc);
    if (rule != NULL ? (strlen(nsn) != (size_t)rule->len || strchr(rule->first, nsn[0]) == NULL) : strlen(nsn) < 4) {
        *why = "is not a valid mobile number for its country";
        return AUTH_PHONE_INVALID;
    }
    out[0] = '+';
    memcpy(out + 1, digits, n + 1);
    *why = NULL;
    return AUTH_PHONE_OK;
}
