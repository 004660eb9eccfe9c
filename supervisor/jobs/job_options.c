/* A job's run options (inputs, measure_all, includes, precision) between the proto, the store and the run. */
#include "job_options.h"

#include <stdlib.h>
#include <string.h>

char *pit_job_options_from_payload(const Pitboss__V1__CircuitPayload *c) {
    int precision = c && c->precision && c->precision[0];
    if (!c || (!c->n_inputs && !c->measure_all && !c->n_includes && !precision)) return NULL;
    json_t *o = json_object();
    if (c->n_inputs) {
        json_t *in = json_object();
        for (size_t i = 0; i < c->n_inputs; i++) json_object_set_new(in, c->inputs[i]->key, json_real(c->inputs[i]->value));
        json_object_set_new(o, "inputs", in);
    }
    if (c->measure_all) json_object_set_new(o, "measure_all", json_true());
    if (c->n_includes) {
        json_t *inc = json_object();
        for (size_t i = 0; i < c->n_includes; i++)
            json_object_set_new(inc, c->includes[i]->key, json_string(c->includes[i]->value));
        json_object_set_new(o, "includes", inc);
    }
    if (precision) json_object_set_new(o, "precision", json_string(c->precision));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

void pit_job_options_limits(const char *options_json, qasm_limits *lim, int *measure_all, json_t **held,
                            const char **names, double *values, const char **inc_names, const char **inc_texts) {
    *measure_all = 0;
    *held = options_json ? json_loads(options_json, 0, NULL) : NULL;
    if (!*held) return;
    *measure_all = json_is_true(json_object_get(*held, "measure_all"));
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(*held, "inputs"), key, v) {
        if (lim->n_inputs == PIT_JOB_MAX_INPUTS) break;
        names[lim->n_inputs] = key;
        values[lim->n_inputs++] = json_number_value(v);
    }
    json_object_foreach(json_object_get(*held, "includes"), key, v) {
        if (lim->n_includes == PIT_JOB_MAX_INCLUDES) break;
        inc_names[lim->n_includes] = key;
        inc_texts[lim->n_includes++] = json_string_value(v);
    }
    lim->input_names = names;
    lim->input_values = values;
    lim->include_names = inc_names;
    lim->include_texts = inc_texts;
}
