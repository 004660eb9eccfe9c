#include "jobs/job_result.h"
#include "alloc.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int pit_job_result_parse(pit_job_result *r, const char *job_id, const char *result_json) {
    memset(r, 0, sizeof *r);
    pitboss__v1__job_result__init(&r->msg);
    json_t *root = result_json ? json_loads(result_json, 0, NULL) : NULL;
    json_t *counts = root ? json_object_get(root, "counts") : NULL;
    if (!json_is_object(counts)) {
        if (root) json_decref(root);
        return -1;
    }
    size_t n = json_object_size(counts);
    r->entries = pit_calloc(n + 1, sizeof *r->entries);
    r->ptrs = pit_calloc(n + 1, sizeof *r->ptrs);
    size_t i = 0;
    const char *key;
    json_t *v;
    json_object_foreach(counts, key, v) {
        pitboss__v1__job_result__counts_entry__init(&r->entries[i]);
        r->entries[i].key = (char *)key;
        r->entries[i].value = (uint64_t)json_integer_value(v);
        r->ptrs[i] = &r->entries[i];
        i++;
    }
    r->root = root;
    r->job_id = pit_strdup(job_id);
    r->msg.job_id = r->job_id;
    r->msg.counts = r->ptrs;
    r->msg.n_counts = n;
    r->msg.shots = (uint32_t)json_integer_value(json_object_get(root, "shots"));
    r->msg.execution_time_ms = json_number_value(json_object_get(root, "execution_time_ms"));
    /* Everything but the counts, for the client's metadata. */
    json_t *meta = json_object();
    json_object_foreach(root, key, v) if (strcmp(key, "counts") != 0) json_object_set(meta, key, v);
    r->metadata_json = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(meta);
    r->msg.metadata_json = r->metadata_json ? r->metadata_json : "";
    return 0;
}

static int by_key(const void *a, const void *b) {
    const Pitboss__V1__JobResult__CountsEntry *x = *(Pitboss__V1__JobResult__CountsEntry *const *)a;
    const Pitboss__V1__JobResult__CountsEntry *y = *(Pitboss__V1__JobResult__CountsEntry *const *)b;
    return strcmp(x->key, y->key);
}

void pit_job_result_sort(pit_job_result *r) { qsort(r->ptrs, r->msg.n_counts, sizeof *r->ptrs, by_key); }

void pit_job_result_clear(pit_job_result *r) {
    free(r->entries);
    free(r->ptrs);
    free(r->job_id);
    free(r->metadata_json);
    if (r->root) json_decref(r->root);
    memset(r, 0, sizeof *r);
}
