#include "config.h"
#include "alloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_args.h"

#define FIELD_PTR(base, off, type) ((type *)((char *)(base) + (off)))

typedef struct {
    const char *file;
    char *err;
    size_t errlen;
} load_ctx;

static int fail(load_ctx *ctx, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(load_ctx *ctx, const char *path, const char *fmt, ...) {
    int n = snprintf(ctx->err, ctx->errlen, "%s: %s: ", ctx->file, path);
    if (n < 0 || (size_t)n >= ctx->errlen) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err + n, ctx->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

void pit_cfg_defaults(const pit_cfg_schema *schema, void *out) {
    for (size_t i = 0; i < schema->n_fields; i++) {
        const pit_cfg_field *f = &schema->fields[i];
        switch (f->type) {
        case PIT_CFG_INT: *FIELD_PTR(out, f->offset, int64_t) = f->def_int; break;
        case PIT_CFG_BOOL:
        case PIT_CFG_ENUM: *FIELD_PTR(out, f->offset, int) = (int)f->def_int; break;
        case PIT_CFG_STRING: *FIELD_PTR(out, f->offset, char *) = f->def_str ? pit_strdup(f->def_str) : NULL; break;
        case PIT_CFG_OBJECT: pit_cfg_defaults(f->sub, FIELD_PTR(out, f->offset, char)); break;
        case PIT_CFG_ARRAY:
        case PIT_CFG_STRMAP:
        case PIT_CFG_STRLIST: break; /* empty */
        }
    }
}

/* Key paths ("pools[1].env.K") are built through vsnprintf: silently cut at 255 characters. */
static void subpath(char *dst, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void subpath(char *dst, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, n, fmt, ap);
    va_end(ap);
}

static void key_list(const pit_cfg_schema *schema, char *buf, size_t len) {
    size_t used = 0;
    buf[0] = 0;
    for (size_t i = 0; i < schema->n_fields && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", schema->fields[i].key);
}

static int load_object(load_ctx *ctx, const pit_cfg_schema *schema, const char *path, json_t *obj, void *out);

static int load_string(load_ctx *ctx, const char *path, json_t *v, char **dst) {
    if (!json_is_string(v)) return fail(ctx, path, "expected a string, got %s", pit_json_type_name(v));
    free(*dst);
    *dst = strdup(json_string_value(v));
    return 0;
}

static int load_field(load_ctx *ctx, const pit_cfg_field *f, const char *path, json_t *v, void *out) {
    switch (f->type) {
    case PIT_CFG_INT: {
        if (!json_is_integer(v)) {
            if (json_is_real(v)) return fail(ctx, path, "expected a whole number, got %g", json_real_value(v));
            return fail(ctx, path, "expected an integer, got %s", pit_json_type_name(v));
        }
        int64_t x = (int64_t)json_integer_value(v);
        if (x < f->min) return fail(ctx, path, "must be at least %lld, got %lld", (long long)f->min, (long long)x);
        if (x > f->max) return fail(ctx, path, "must be at most %lld, got %lld", (long long)f->max, (long long)x);
        *FIELD_PTR(out, f->offset, int64_t) = x;
        return 0;
    }
    case PIT_CFG_BOOL:
        if (!json_is_boolean(v)) return fail(ctx, path, "expected true or false, got %s", pit_json_type_name(v));
        *FIELD_PTR(out, f->offset, int) = json_is_true(v);
        return 0;
    case PIT_CFG_STRING: return load_string(ctx, path, v, FIELD_PTR(out, f->offset, char *));
    case PIT_CFG_ENUM: {
        if (!json_is_string(v)) return fail(ctx, path, "expected a string, got %s", pit_json_type_name(v));
        const char *s = json_string_value(v);
        char choices[256];
        size_t used = 0;
        choices[0] = 0;
        for (int i = 0; f->choices[i]; i++) {
            if (strcmp(f->choices[i], s) == 0) {
                *FIELD_PTR(out, f->offset, int) = i;
                return 0;
            }
            used += (size_t)snprintf(choices + used, sizeof choices - used, "%s\"%s\"", i ? ", " : "", f->choices[i]);
            if (used >= sizeof choices) used = sizeof choices - 1;
        }
        return fail(ctx, path, "must be one of %s, got \"%s\"", choices, s);
    }
    case PIT_CFG_OBJECT:
        if (!json_is_object(v)) return fail(ctx, path, "expected an object, got %s", pit_json_type_name(v));
        return load_object(ctx, f->sub, path, v, FIELD_PTR(out, f->offset, char));
    case PIT_CFG_ARRAY: {
        if (!json_is_array(v)) return fail(ctx, path, "expected an array, got %s", pit_json_type_name(v));
        size_t n = json_array_size(v);
        char *items = pit_calloc(n ? n : 1, f->sub->size);
        *FIELD_PTR(out, f->offset, void *) = items;
        *FIELD_PTR(out, f->count_offset, size_t) = 0;
        for (size_t i = 0; i < n; i++) {
            char sub[256];
            subpath(sub, sizeof sub, "%s[%zu]", path, i);
            json_t *e = json_array_get(v, i);
            void *elem = items + i * f->sub->size;
            pit_cfg_defaults(f->sub, elem);
            *FIELD_PTR(out, f->count_offset, size_t) = i + 1; /* so pit_cfg_free frees it */
            if (!json_is_object(e)) return fail(ctx, sub, "expected an object, got %s", pit_json_type_name(e));
            if (load_object(ctx, f->sub, sub, e, elem) != 0) return -1;
        }
        return 0;
    }
    case PIT_CFG_STRMAP: {
        if (!json_is_object(v)) return fail(ctx, path, "expected an object of strings, got %s", pit_json_type_name(v));
        pit_cfg_strmap *m = FIELD_PTR(out, f->offset, pit_cfg_strmap);
        size_t n = json_object_size(v);
        m->keys = pit_calloc(n ? n : 1, sizeof(char *));
        m->values = pit_calloc(n ? n : 1, sizeof(char *));
        const char *k;
        json_t *e;
        json_object_foreach(v, k, e) {
            if (!json_is_string(e)) {
                char sub[256];
                subpath(sub, sizeof sub, "%s.%s", path, k);
                return fail(ctx, sub, "expected a string, got %s", pit_json_type_name(e));
            }
            m->keys[m->count] = pit_strdup(k);
            m->values[m->count++] = pit_strdup(json_string_value(e));
        }
        return 0;
    }
    case PIT_CFG_STRLIST: {
        pit_cfg_strlist *l = FIELD_PTR(out, f->offset, pit_cfg_strlist);
        if (json_is_string(v)) {
            l->items = pit_calloc(1, sizeof(char *));
            l->items[0] = pit_strdup(json_string_value(v));
            l->count = 1;
            return 0;
        }
        if (!json_is_array(v))
            return fail(ctx, path, "expected a string or an array of strings, got %s", pit_json_type_name(v));
        size_t n = json_array_size(v);
        l->items = pit_calloc(n ? n : 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get(v, i);
            if (!json_is_string(e)) {
                char sub[256];
                subpath(sub, sizeof sub, "%s[%zu]", path, i);
                return fail(ctx, sub, "expected a string, got %s", pit_json_type_name(e));
            }
            l->items[l->count++] = pit_strdup(json_string_value(e));
        }
        return 0;
    }
    }
    return fail(ctx, path, "unsupported field type");
}

static int load_object(load_ctx *ctx, const pit_cfg_schema *schema, const char *path, json_t *obj, void *out) {
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        char sub[256];
        subpath(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", key);
        const pit_cfg_field *f = NULL;
        for (size_t i = 0; i < schema->n_fields; i++)
            if (strcmp(schema->fields[i].key, key) == 0) f = &schema->fields[i];
        if (!f) {
            char known[512];
            key_list(schema, known, sizeof known);
            return fail(ctx, sub, "unknown key (known here: %s)", known);
        }
        if (load_field(ctx, f, sub, v, out) != 0) return -1;
    }
    for (size_t i = 0; i < schema->n_fields; i++) {
        const pit_cfg_field *f = &schema->fields[i];
        if (f->required && !json_object_get(obj, f->key)) {
            char sub[256];
            subpath(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", f->key);
            return fail(ctx, sub, "is required (%s)", f->doc ? f->doc : "no default");
        }
    }
    return 0;
}

int pit_cfg_load_text(const pit_cfg_schema *schema, const char *name, const char *text, void *out, char *err,
                      size_t errlen) {
    load_ctx ctx = {name, err, errlen};
    pit_cfg_defaults(schema, out);
    json_error_t je;
    json_t *root = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        snprintf(err, errlen, "%s:%d:%d: not valid JSON: %s", name, je.line, je.column, je.text);
        return -1;
    }
    int rc;
    if (!json_is_object(root)) {
        snprintf(err, errlen, "%s: the top level must be a JSON object, got %s", name, pit_json_type_name(root));
        rc = -1;
    } else {
        rc = load_object(&ctx, schema, "", root, out);
    }
    json_decref(root);
    return rc;
}

int pit_cfg_load_file(const pit_cfg_schema *schema, const char *path, void *out, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        pit_cfg_defaults(schema, out);
        snprintf(err, errlen, "%s: cannot open the config file: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    char *text = pit_malloc(cap);
    size_t n;
    while ((n = fread(text + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) text = pit_realloc(text, cap *= 2);
    }
    fclose(f);
    text[len] = 0;
    int rc = pit_cfg_load_text(schema, path, text, out, err, errlen);
    free(text);
    return rc;
}

void pit_cfg_free(const pit_cfg_schema *schema, void *out) {
    for (size_t i = 0; i < schema->n_fields; i++) {
        const pit_cfg_field *f = &schema->fields[i];
        switch (f->type) {
        case PIT_CFG_STRING: {
            char **s = FIELD_PTR(out, f->offset, char *);
            free(*s);
            *s = NULL;
            break;
        }
        case PIT_CFG_OBJECT: pit_cfg_free(f->sub, FIELD_PTR(out, f->offset, char)); break;
        case PIT_CFG_ARRAY: {
            char **items = FIELD_PTR(out, f->offset, char *);
            size_t *count = FIELD_PTR(out, f->count_offset, size_t);
            for (size_t k = 0; k < *count; k++) pit_cfg_free(f->sub, *items + k * f->sub->size);
            free(*items);
            *items = NULL;
            *count = 0;
            break;
        }
        case PIT_CFG_STRMAP: {
            pit_cfg_strmap *m = FIELD_PTR(out, f->offset, pit_cfg_strmap);
            for (size_t k = 0; k < m->count; k++) {
                free(m->keys[k]);
                free(m->values[k]);
            }
            free(m->keys);
            free(m->values);
            memset(m, 0, sizeof *m);
            break;
        }
        case PIT_CFG_STRLIST: {
            pit_cfg_strlist *l = FIELD_PTR(out, f->offset, pit_cfg_strlist);
            for (size_t k = 0; k < l->count; k++) free(l->items[k]);
            free(l->items);
            memset(l, 0, sizeof *l);
            break;
        }
        default: break;
        }
    }
}

const char *pit_cfg_strmap_get(const pit_cfg_strmap *map, const char *key) {
    for (size_t i = 0; i < map->count; i++)
        if (strcmp(map->keys[i], key) == 0) return map->values[i];
    return NULL;
}
