/*
 * Schema-driven loading of JSON config files into C structs.
 *
 * A schema is a table of fields (key, type, where in the struct, default, limits, doc). Loading
 * fills the struct with defaults, then with the file's values, and stops at the first problem
 * with one message naming the file, the key path and what is wrong:
 *     config/pitboss.json: pools[1].size: must be at least 1, got 0
 * Unknown keys are errors (a typo must not silently fall back to a default).
 */
#ifndef PIT_CONFIG_H
#define PIT_CONFIG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    PIT_CFG_INT,     /* int64_t */
    PIT_CFG_STRING,  /* char * (malloc'd; NULL when unset and no default) */
    PIT_CFG_BOOL,    /* int */
    PIT_CFG_ENUM,    /* int: index into choices */
    PIT_CFG_OBJECT,  /* a nested struct at offset, described by sub */
    PIT_CFG_ARRAY,   /* an array of structs described by sub: void *items at offset, size_t count at count_offset */
    PIT_CFG_STRMAP,  /* object of string -> string: pit_cfg_strmap at offset */
    PIT_CFG_STRLIST, /* a string or an array of strings: pit_cfg_strlist at offset */
} pit_cfg_type;

typedef struct {
    char **keys;
    char **values;
    size_t count;
} pit_cfg_strmap;

typedef struct {
    char **items;
    size_t count;
} pit_cfg_strlist;

typedef struct pit_cfg_schema pit_cfg_schema;

typedef struct {
    const char *key;
    pit_cfg_type type;
    size_t offset;
    int64_t def_int;       /* INT, BOOL, ENUM default */
    const char *def_str;   /* STRING default */
    int64_t min, max;      /* INT limits (inclusive) */
    const char *const *choices; /* ENUM: NULL-terminated */
    const pit_cfg_schema *sub;  /* OBJECT, ARRAY */
    size_t count_offset;        /* ARRAY */
    int required;
    const char *doc;
} pit_cfg_field;

struct pit_cfg_schema {
    const char *name;
    const pit_cfg_field *fields;
    size_t n_fields;
    size_t size; /* sizeof the struct (for ARRAY elements) */
};

/* Fills out (a struct of the schema's shape, zeroed by the caller) with defaults. */
void pit_cfg_defaults(const pit_cfg_schema *schema, void *out);
/* Loads path into out. Returns 0, or -1 with the message in err. */
int pit_cfg_load_file(const pit_cfg_schema *schema, const char *path, void *out, char *err, size_t errlen);
/* The same from JSON text; name stands for the file in messages. */
int pit_cfg_load_text(const pit_cfg_schema *schema, const char *name, const char *text, void *out, char *err,
                      size_t errlen);
/* Frees what loading allocated inside out (not out itself). */
void pit_cfg_free(const pit_cfg_schema *schema, void *out);
/* Looks a key up in a string map (NULL if absent). */
const char *pit_cfg_strmap_get(const pit_cfg_strmap *map, const char *key);

#endif
