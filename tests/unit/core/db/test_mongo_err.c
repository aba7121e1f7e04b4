/* core/db/mongo_err.c: driver and server errors as kr_err codes, with
 * messages that never repeat the values the server quotes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/db/mongo_err.h"
#include "core/util/err.h"

static int map(uint32_t domain, uint32_t code, const char *message)
{
    bson_error_t e;
    bson_set_error(&e, domain, code, "%s", message);
    return krc_mongo_error(&e, "insert in users");
}

static void expect_msg(const char *part)
{
    if (strstr(krc_err_msg(), part) == NULL)
        fail_msg("message \"%s\" does not mention \"%s\"", krc_err_msg(), part);
}

static void expect_no(const char *part)
{
    if (strstr(krc_err_msg(), part) != NULL)
        fail_msg("message \"%s\" repeats \"%s\"", krc_err_msg(), part);
}

static void test_unavailable(void **state)
{
    (void)state;
    assert_int_equal(map(MONGOC_ERROR_SERVER_SELECTION, MONGOC_ERROR_SERVER_SELECTION_FAILURE,
                         "No suitable servers found: `serverSelectionTimeoutMS` expired"),
                     KR_EUNAVAILABLE);
    expect_msg("insert in users");
    expect_msg("serverSelectionTimeoutMS");
    assert_int_equal(map(MONGOC_ERROR_STREAM, MONGOC_ERROR_STREAM_SOCKET, "socket error or timeout"), KR_EUNAVAILABLE);
    assert_int_equal(map(MONGOC_ERROR_STREAM, MONGOC_ERROR_STREAM_CONNECT, "Failed to connect"), KR_EUNAVAILABLE);
    assert_int_equal(map(MONGOC_ERROR_CLIENT, MONGOC_ERROR_CLIENT_AUTHENTICATE, "Authentication failed"),
                     KR_EUNAVAILABLE);
    assert_int_equal(map(MONGOC_ERROR_SERVER, 50, "operation exceeded time limit"), KR_EUNAVAILABLE);
    assert_int_equal(map(MONGOC_ERROR_SERVER, 10107, "not primary"), KR_EUNAVAILABLE);
    assert_int_equal(map(MONGOC_ERROR_SERVER, 91, "shutting down"), KR_EUNAVAILABLE);
    assert_int_equal(map(MONGOC_ERROR_SERVER, 18, "Authentication failed."), KR_EUNAVAILABLE);
}

static void test_duplicates(void **state)
{
    (void)state;
    assert_int_equal(map(MONGOC_ERROR_SERVER, 11000,
                         "E11000 duplicate key error collection: kirana.users index: phone_1 dup key: { phone: "
                         "\"+919800000000\" }"),
                     KR_EDUPLICATE);
    expect_msg("\"phone_1\"");
    expect_no("+9198");
    assert_int_equal(map(MONGOC_ERROR_SERVER, 11000,
                         "E11000 duplicate key error collection: kirana.users index: _id_ "
                         "dup key: { _id: \"u1\" }"),
                     KR_EDUPLICATE);
    expect_msg("\"_id_\"");
    /* FerretDB names no index */
    assert_int_equal(map(MONGOC_ERROR_SERVER, 11000, "E11000 duplicate key error collection: kirana.users"),
                     KR_EDUPLICATE);
    expect_msg("did not say which");
    assert_int_equal(map(MONGOC_ERROR_SERVER, 11001, "E11001 duplicate key on update index: k_1 dup key"),
                     KR_EDUPLICATE);
    assert_int_equal(map(MONGOC_ERROR_WRITE_CONCERN, 11000, "E11000 index: k_1 dup key"), KR_EDUPLICATE);
    char index[32];
    krc_mongo_dup_index("index: shop_sku dup key: {}", index, sizeof(index));
    assert_string_equal(index, "shop_sku");
    krc_mongo_dup_index("no index named", index, sizeof(index));
    assert_string_equal(index, "");
}

static void test_invalid(void **state)
{
    (void)state;
    assert_int_equal(map(MONGOC_ERROR_SERVER, 28, "Cannot create field 'b' in element {a: 1}"), KR_EINVAL);
    expect_msg("create field");
    expect_no("{a: 1}");
    assert_int_equal(map(MONGOC_ERROR_SERVER, 14,
                         "Cannot apply $inc to a value of non-numeric type. {_id: \"u\"} has the field 's' of "
                         "non-numeric type string"),
                     KR_EINVAL);
    expect_msg("$inc");
    expect_no("\"u\"");
    assert_int_equal(map(MONGOC_ERROR_SERVER, 2, "Cannot apply $addToSet to non-array field. Field named 's'"),
                     KR_EINVAL);
    expect_msg("$addToSet");
    assert_int_equal(map(MONGOC_ERROR_SERVER, 2, "The field 'a' must be an array but is of type int in document"),
                     KR_EINVAL);
    expect_msg("server code 2");
    assert_int_equal(map(MONGOC_ERROR_SERVER, 66,
                         "After applying the update, the (immutable) field '_id' was found to have been altered to "
                         "_id: \"other\""),
                     KR_EINVAL);
    expect_msg("_id is immutable");
    expect_no("other");
    assert_int_equal(map(MONGOC_ERROR_SERVER, 51091, "Regular expression is invalid: missing )"), KR_EINVAL);
    expect_msg("$regex");
    assert_int_equal(map(MONGOC_ERROR_SERVER, 2, "Regular expression is invalid: nothing to repeat"), KR_EINVAL);
    expect_msg("$regex");
    assert_int_equal(
        map(MONGOC_ERROR_COMMAND, MONGOC_ERROR_COMMAND_INVALID_ARG, "invalid document for insert: keys cannot contain"),
        KR_EINVAL);
}

static void test_other(void **state)
{
    (void)state;
    assert_int_equal(map(MONGOC_ERROR_SERVER, 10334, "BSONObj size: 17000000 is invalid"), KR_ETOOBIG);
    assert_int_equal(map(MONGOC_ERROR_CLIENT, MONGOC_ERROR_CLIENT_TOO_BIG, "too big"), KR_ETOOBIG);
    assert_int_equal(map(MONGOC_ERROR_SERVER, 85, "Index with name: a_1 already exists with different options"),
                     KR_ECONFLICT);
    expect_msg("drop it");
    assert_int_equal(map(MONGOC_ERROR_SERVER, 86, "Index must have unique name"), KR_ECONFLICT);
    /* unknown server codes keep the server's text: they only reach logs */
    assert_int_equal(map(MONGOC_ERROR_SERVER, 238, "Index option \"x\" is not implemented yet"), KR_EINTERNAL);
    expect_msg("not implemented");
    assert_int_equal(map(MONGOC_ERROR_SERVER, 1, "constraint failed: UNIQUE constraint failed"), KR_EINTERNAL);
    assert_int_equal(map(MONGOC_ERROR_PROTOCOL, MONGOC_ERROR_PROTOCOL_INVALID_REPLY, "bad reply"), KR_EINTERNAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unavailable),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_other),
    };
    return cmocka_run_group_tests_name("mongo_err", tests, NULL, NULL);
}
