#include "core/db/mongo_err.h"

#include <stdio.h>
#include <string.h>

#include "core/util/err.h"

/* Server codes meaning "this server cannot answer now". */
static const int unavailable_codes[] = {
    6,     /* HostUnreachable */
    7,     /* HostNotFound */
    13,    /* Unauthorized */
    18,    /* AuthenticationFailed */
    50,    /* MaxTimeMSExpired */
    89,    /* NetworkTimeout */
    91,    /* ShutdownInProgress */
    189,   /* PrimarySteppedDown */
    262,   /* ExceededTimeLimit */
    9001,  /* SocketException */
    10107, /* NotWritablePrimary */
    11600, /* InterruptedAtShutdown */
    11602, /* InterruptedDueToReplStateChange */
    13435, /* NotPrimaryNoSecondaryOk */
    13436, /* NotPrimaryOrSecondary */
};

/* Server codes for a request the stored data or the input makes invalid. */
static const int invalid_codes[] = {
    2,     /* BadValue */
    9,     /* FailedToParse */
    14,    /* TypeMismatch */
    15,    /* Overflow */
    28,    /* PathNotViable */
    40,    /* ConflictingUpdateOperators */
    52,    /* DollarPrefixedFieldName */
    53,    /* InvalidIdField */
    54,    /* NotSingleValueField */
    55,    /* InvalidDBRef */
    56,    /* EmptyFieldName */
    57,    /* DottedFieldName */
    66,    /* ImmutableField */
    51091, /* invalid regular expression */
};

static const int duplicate_codes[] = {11000, 11001, 12582};
/* IndexOptionsConflict, IndexKeySpecsConflict: an index of that name or
 * with those keys exists with other options. */
static const int index_conflict_codes[] = {85, 86};
static const int too_big_codes[] = {10334, 16328, 17419, 17420};

static int in(const int *codes, size_t n, uint32_t code)
{
    for (size_t i = 0; i < n; i++)
        if ((uint32_t)codes[i] == code)
            return 1;
    return 0;
}
#define IN(list, code) in(list, sizeof(list) / sizeof(list[0]), code)

void krc_mongo_dup_index(const char *message, char *out, size_t outlen)
{
    out[0] = '\0';
    const char *p = strstr(message, "index: ");
    if (p == NULL)
        return;
    p += strlen("index: ");
    size_t n = strcspn(p, " ");
    snprintf(out, outlen, "%.*s", (int)n, p);
}

/* The first update operator or $regex the server's message names, "" if
 * none (longer names first: "$set" is a prefix of "$setOnInsert"). */
static const char *named_operator(const char *message)
{
    static const char *const ops[] = {"$setOnInsert", "$addToSet", "$unset", "$regex",
                                      "$push",        "$pull",     "$inc",   "$set"};
    const char *best = "";
    const char *best_at = NULL;
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        const char *at = strstr(message, ops[i]);
        if (at != NULL && (best_at == NULL || at < best_at)) {
            best = ops[i];
            best_at = at;
        }
    }
    return best;
}

static int invalid(const bson_error_t *e, const char *what)
{
    if (e->code == 28)
        return krc_err_set(KR_EINVAL, "%s: cannot create field inside a value that is not a document (server code 28)",
                           what);
    if (e->code == 66)
        return krc_err_set(KR_EINVAL, "%s: _id is immutable (server code 66)", what);
    if (e->code == 51091 || strstr(e->message, "egular expression") != NULL)
        return krc_err_set(KR_EINVAL, "%s: $regex: invalid regular expression (server code %u)", what, e->code);
    const char *op = named_operator(e->message);
    if (op[0] != '\0')
        return krc_err_set(KR_EINVAL, "%s: %s cannot apply to a value of the type stored (server code %u)", what, op,
                           e->code);
    return krc_err_set(KR_EINVAL, "%s: refused by the server for the values given or stored (server code %u)", what,
                       e->code);
}

int krc_mongo_error(const bson_error_t *e, const char *what)
{
    switch (e->domain) {
    case MONGOC_ERROR_SERVER_SELECTION:
    case MONGOC_ERROR_STREAM:
    case MONGOC_ERROR_SASL:
    case MONGOC_ERROR_SCRAM:
        return krc_err_set(KR_EUNAVAILABLE, "%s: mongodb unavailable: %s", what, e->message);
    case MONGOC_ERROR_CLIENT:
        if (e->code == MONGOC_ERROR_CLIENT_TOO_BIG)
            return krc_err_set(KR_ETOOBIG, "%s: document larger than the server accepts", what);
        return krc_err_set(KR_EUNAVAILABLE, "%s: mongodb unavailable: %s", what, e->message);
    case MONGOC_ERROR_COMMAND:
    case MONGOC_ERROR_BSON:
        /* the driver refused to send it: keys with '.' or '$', bad UTF-8 */
        return krc_err_set(KR_EINVAL, "%s: %s", what, e->message);
    case MONGOC_ERROR_SERVER:
    case MONGOC_ERROR_WRITE_CONCERN:
        if (IN(duplicate_codes, e->code)) {
            char index[128];
            krc_mongo_dup_index(e->message, index, sizeof(index));
            if (index[0] == '\0')
                return krc_err_set(KR_EDUPLICATE, "%s: duplicate key on a unique index (the server did not say which)",
                                   what);
            return krc_err_set(KR_EDUPLICATE, "%s: duplicate key: unique index \"%s\"", what, index);
        }
        if (IN(index_conflict_codes, e->code))
            return krc_err_set(KR_ECONFLICT,
                               "%s: an index with this name or these keys exists with other keys or options "
                               "(server code %u); drop it or choose another name",
                               what, e->code);
        if (IN(unavailable_codes, e->code))
            return krc_err_set(KR_EUNAVAILABLE, "%s: mongodb unavailable: %s (server code %u)", what, e->message,
                               e->code);
        if (IN(too_big_codes, e->code))
            return krc_err_set(KR_ETOOBIG, "%s: document larger than the server accepts (server code %u)", what,
                               e->code);
        if (IN(invalid_codes, e->code))
            return invalid(e, what);
        break;
    default:
        break;
    }
    return krc_err_set(KR_EINTERNAL, "%s: mongodb error %u.%u: %s", what, e->domain, e->code, e->message);
}
