/* Core: the one place where errors become HTTP (RFC 9457 problem+json). */
#ifndef KRC_SERVER_PROBLEM_H
#define KRC_SERVER_PROBLEM_H

#include <jansson.h>
#include <stddef.h>

#define KRC_PROBLEM_TYPE_BASE "https://kirana.dev/problems/"
#define KRC_PROBLEM_CT "application/problem+json"

/* any. HTTP status for a kr_err (500 for unknown codes). */
int krc_err_http_status(int err);
/* any. Problem `code` for a kr_err ("not_found", ...). Static. */
const char *krc_err_problem_code(int err);
/* any. Reason phrase ("Not Found"); static, never NULL. */
const char *krc_http_reason(int status);
/* any. {type, title, status, detail, code} plus the members of extra
 * (stolen, may be NULL) as compact JSON; caller-owned (free()). */
char *krc_problem_body(int status, const char *code, const char *detail, json_t *extra, size_t *len);

#endif
