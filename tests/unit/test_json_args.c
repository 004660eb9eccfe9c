/* Request arguments: JSON objects in, clear errors with positions for anything else. */
#include <criterion/criterion.h>
#include <string.h>

#include "json_args.h"
#include "status.h"

static char err[512];

static json_t *parse(const char *s) {
    err[0] = 0;
    return pit_json_parse_object(s, strlen(s), err, sizeof err);
}

Test(json_args, empty_text_is_an_empty_object) {
    json_t *v = parse("  \n");
    cr_assert_not_null(v);
    cr_assert(json_is_object(v));
    cr_assert_eq(json_object_size(v), 0);
    json_decref(v);
}

Test(json_args, an_object_is_parsed) {
    json_t *v = parse("{\"a\": 1, \"b\": [true, null], \"c\": \"\\u00e9\"}");
    cr_assert_not_null(v, "%s", err);
    cr_assert_eq(json_integer_value(json_object_get(v, "a")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(v, "c")), "\xc3\xa9");
    char *text = pit_json_dump(v);
    cr_assert_str_eq(text, "{\"a\":1,\"b\":[true,null],\"c\":\"\xc3\xa9\"}");
    free(text);
    json_decref(v);
}

Test(json_args, a_syntax_error_names_line_and_column) {
    cr_assert_null(parse("{\"a\": 1,\n \"b\": }"));
    cr_assert(strstr(err, "args are not valid JSON") != NULL, "%s", err);
    cr_assert(strstr(err, "line 2, column 7") != NULL, "%s", err);
}

Test(json_args, a_non_object_is_refused_by_type) {
    cr_assert_null(parse("[1, 2]"));
    cr_assert(strstr(err, "must be a JSON object") && strstr(err, "got a JSON array"), "%s", err);
    cr_assert_null(parse("42"));
    cr_assert(strstr(err, "got a JSON integer"), "%s", err);
}

Test(status, names_round_trip) {
    for (int code = 0; code <= 16; code++)
        cr_assert_eq(pit_status_parse(pit_status_name((grpc_status_code)code)), code);
    cr_assert_str_eq(pit_status_name(GRPC_STATUS_RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED");
    cr_assert_eq(pit_status_parse("NOPE"), -1);
}
