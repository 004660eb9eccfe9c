/* The schema-driven config loader: defaults, values, and one clear message per mistake. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

typedef struct {
    char *name;
    int64_t size;
    int kind;
    pit_cfg_strmap env;
    pit_cfg_strlist modules;
} pool_cfg;

typedef struct {
    int64_t request_ms;
    int enabled;
} timeouts_cfg;

typedef struct {
    char *listen;
    timeouts_cfg timeouts;
    pool_cfg *pools;
    size_t n_pools;
} test_cfg;

static const char *const kinds[] = {"native", "python", NULL};

static const pit_cfg_field pool_fields[] = {
    {.key = "name", .type = PIT_CFG_STRING, .offset = offsetof(pool_cfg, name), .required = 1, .doc = "pool name"},
    {.key = "size", .type = PIT_CFG_INT, .offset = offsetof(pool_cfg, size), .def_int = 2, .min = 1, .max = 64},
    {.key = "kind", .type = PIT_CFG_ENUM, .offset = offsetof(pool_cfg, kind), .def_int = 0, .choices = kinds},
    {.key = "env", .type = PIT_CFG_STRMAP, .offset = offsetof(pool_cfg, env)},
    {.key = "module", .type = PIT_CFG_STRLIST, .offset = offsetof(pool_cfg, modules)},
};
static const pit_cfg_schema pool_schema = {"pool", pool_fields, 5, sizeof(pool_cfg)};

static const pit_cfg_field timeout_fields[] = {
    {.key = "request_ms", .type = PIT_CFG_INT, .offset = offsetof(timeouts_cfg, request_ms), .def_int = 30000,
     .min = 0, .max = 86400000},
    {.key = "enabled", .type = PIT_CFG_BOOL, .offset = offsetof(timeouts_cfg, enabled), .def_int = 1},
};
static const pit_cfg_schema timeouts_schema = {"timeouts", timeout_fields, 2, sizeof(timeouts_cfg)};

static const pit_cfg_field top_fields[] = {
    {.key = "listen", .type = PIT_CFG_STRING, .offset = offsetof(test_cfg, listen), .def_str = "127.0.0.1:50051"},
    {.key = "timeouts", .type = PIT_CFG_OBJECT, .offset = offsetof(test_cfg, timeouts), .sub = &timeouts_schema},
    {.key = "pools", .type = PIT_CFG_ARRAY, .offset = offsetof(test_cfg, pools), .sub = &pool_schema,
     .count_offset = offsetof(test_cfg, n_pools)},
};
static const pit_cfg_schema top_schema = {"pitboss", top_fields, 3, sizeof(test_cfg)};

static char err[1024];

static int load(const char *text, test_cfg *c) {
    memset(c, 0, sizeof *c);
    err[0] = 0;
    return pit_cfg_load_text(&top_schema, "t.json", text, c, err, sizeof err);
}

Test(config, defaults_fill_what_the_file_leaves_out) {
    test_cfg c;
    cr_assert_eq(load("{}", &c), 0, "%s", err);
    cr_assert_str_eq(c.listen, "127.0.0.1:50051");
    cr_assert_eq(c.timeouts.request_ms, 30000);
    cr_assert_eq(c.timeouts.enabled, 1);
    cr_assert_eq(c.n_pools, 0);
    pit_cfg_free(&top_schema, &c);
}

Test(config, values_are_read_into_nested_structs_and_arrays) {
    test_cfg c;
    const char *text = "{\"listen\": \"127.0.0.1:7000\", \"timeouts\": {\"request_ms\": 5, \"enabled\": false},"
                       " \"pools\": [{\"name\": \"a\"}, {\"name\": \"b\", \"size\": 8, \"kind\": \"python\","
                       " \"env\": {\"X\": \"1\"}, \"module\": [\"m1\", \"m2\"]}]}";
    cr_assert_eq(load(text, &c), 0, "%s", err);
    cr_assert_str_eq(c.listen, "127.0.0.1:7000");
    cr_assert_eq(c.timeouts.request_ms, 5);
    cr_assert_eq(c.timeouts.enabled, 0);
    cr_assert_eq(c.n_pools, 2);
    cr_assert_str_eq(c.pools[0].name, "a");
    cr_assert_eq(c.pools[0].size, 2);
    cr_assert_eq(c.pools[0].kind, 0);
    cr_assert_eq(c.pools[1].size, 8);
    cr_assert_eq(c.pools[1].kind, 1);
    cr_assert_str_eq(pit_cfg_strmap_get(&c.pools[1].env, "X"), "1");
    cr_assert_null(pit_cfg_strmap_get(&c.pools[1].env, "Y"));
    cr_assert_eq(c.pools[1].modules.count, 2);
    cr_assert_str_eq(c.pools[1].modules.items[1], "m2");
    pit_cfg_free(&top_schema, &c);
}

Test(config, a_single_string_is_a_one_item_list) {
    test_cfg c;
    cr_assert_eq(load("{\"pools\": [{\"name\": \"a\", \"module\": \"only\"}]}", &c), 0, "%s", err);
    cr_assert_eq(c.pools[0].modules.count, 1);
    cr_assert_str_eq(c.pools[0].modules.items[0], "only");
    pit_cfg_free(&top_schema, &c);
}

struct bad_case {
    const char *text;
    const char *expect;
};

Test(config, every_mistake_names_the_file_key_and_problem) {
    const struct bad_case cases[] = {
        {"{\"lisen\": \"x\"}", "t.json: lisen: unknown key (known here: listen, timeouts, pools)"},
        {"{\"timeouts\": {\"request_ms\": \"5\"}}", "t.json: timeouts.request_ms: expected an integer, got string"},
        {"{\"timeouts\": {\"request_ms\": 1.5}}", "t.json: timeouts.request_ms: expected a whole number, got 1.5"},
        {"{\"timeouts\": {\"request_ms\": -1}}", "t.json: timeouts.request_ms: must be at least 0, got -1"},
        {"{\"timeouts\": {\"enabled\": 1}}", "t.json: timeouts.enabled: expected true or false, got integer"},
        {"{\"pools\": [{\"name\": \"a\", \"size\": 0}]}", "t.json: pools[0].size: must be at least 1, got 0"},
        {"{\"pools\": [{\"name\": \"a\"}, {\"size\": 3}]}", "t.json: pools[1].name: is required (pool name)"},
        {"{\"pools\": [{\"name\": \"a\", \"kind\": \"ruby\"}]}",
         "t.json: pools[0].kind: must be one of \"native\", \"python\", got \"ruby\""},
        {"{\"pools\": [{\"name\": \"a\", \"env\": {\"K\": 3}}]}", "t.json: pools[0].env.K: expected a string, got integer"},
        {"{\"pools\": {}}", "t.json: pools: expected an array, got object"},
        {"[1]", "t.json: the top level must be a JSON object, got array"},
        {"{\n  \"listen\": ,\n}", "t.json:2:13: not valid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        test_cfg c;
        cr_assert_eq(load(cases[i].text, &c), -1, "case %zu should fail: %s", i, cases[i].text);
        cr_assert(strncmp(err, cases[i].expect, strlen(cases[i].expect)) == 0, "case %zu: got \"%s\", want \"%s\"", i,
                  err, cases[i].expect);
        pit_cfg_free(&top_schema, &c);
    }
}

Test(config, a_missing_file_is_named) {
    test_cfg c;
    memset(&c, 0, sizeof c);
    cr_assert_eq(pit_cfg_load_file(&top_schema, "/nonexistent/p.json", &c, err, sizeof err), -1);
    cr_assert(strstr(err, "/nonexistent/p.json: cannot open the config file") != NULL, "%s", err);
    pit_cfg_free(&top_schema, &c);
}

Test(config, a_file_is_read_whole) {
    char path[] = "/tmp/pitboss-test-config-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "{\"listen\": \"");
    for (int i = 0; i < 10000; i++) fputc('a', f); /* larger than any read buffer */
    fprintf(f, "\"}");
    fclose(f);
    test_cfg c;
    memset(&c, 0, sizeof c);
    cr_assert_eq(pit_cfg_load_file(&top_schema, path, &c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(strlen(c.listen), 10000);
    pit_cfg_free(&top_schema, &c);
    unlink(path);
}
