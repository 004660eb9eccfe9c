/* The shared small parts of common/: the intrusive list, the string map, the histogram. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "histogram.h"
#include "list.h"
#include "strmap.h"

typedef struct {
    int v;
    pit_list node;
    pit_strmap_node mnode;
    char key[16];
} item;

Test(list, push_remove_and_walk_in_order) {
    pit_list h;
    pit_list_init(&h);
    cr_assert(pit_list_empty(&h));
    item it[5];
    for (int i = 0; i < 5; i++) {
        it[i].v = i;
        pit_list_init(&it[i].node);
        cr_assert(!pit_list_linked(&it[i].node));
    }
    pit_list_push_back(&h, &it[1].node);
    pit_list_push_back(&h, &it[2].node);
    pit_list_push_front(&h, &it[0].node); /* a requeued job keeps its place at the front */
    pit_list_push_back(&h, &it[3].node);
    pit_list_remove(&it[2].node);
    cr_assert(!pit_list_linked(&it[2].node));
    int want[] = {0, 1, 3}, k = 0;
    pit_list *n, *tmp;
    pit_list_foreach_safe(n, tmp, &h) {
        cr_assert_eq(pit_list_entry(n, item, node)->v, want[k++]);
        pit_list_remove(n); /* removing while walking */
    }
    cr_assert_eq(k, 3);
    cr_assert(pit_list_empty(&h));
}

static int drop_odd(pit_strmap_node *n, void *arg) {
    int *seen = arg;
    (*seen)++;
    return pit_strmap_entry(n, item, mnode)->v % 2;
}

Test(strmap, put_get_remove_grow_and_sweep) {
    pit_strmap m;
    pit_strmap_init(&m, 4);
    int n = 1000;
    item *it = calloc((size_t)n, sizeof *it);
    for (int i = 0; i < n; i++) {
        it[i].v = i;
        snprintf(it[i].key, sizeof it[i].key, "k%d", i);
        pit_strmap_put(&m, &it[i].mnode, it[i].key);
    }
    cr_assert_eq(m.count, (size_t)n);
    cr_assert_gt(m.n_buckets, 4, "it grew");
    for (int i = 0; i < n; i++) {
        pit_strmap_node *got = pit_strmap_get(&m, it[i].key);
        cr_assert_not_null(got, "%s", it[i].key);
        cr_assert_eq(pit_strmap_entry(got, item, mnode)->v, i);
    }
    cr_assert_null(pit_strmap_get(&m, "k1000"));
    cr_assert_null(pit_strmap_get(&m, ""));
    pit_strmap_remove(&m, &it[7].mnode);
    cr_assert_null(pit_strmap_get(&m, "k7"));
    cr_assert_eq(m.count, (size_t)n - 1);
    int seen = 0;
    cr_assert_eq(pit_strmap_sweep(&m, drop_odd, &seen), (size_t)(n / 2 - 1)); /* k7 was gone already */
    cr_assert_eq(seen, n - 1);
    cr_assert_not_null(pit_strmap_get(&m, "k8"));
    cr_assert_null(pit_strmap_get(&m, "k9"));
    pit_strmap_destroy(&m);
    free(it);
}

static void collect(void *out, const char *line) { strcat(out, line); }

Test(histogram, buckets_are_cumulative_and_render_as_prometheus_text) {
    static const double le[] = {0.1, 1, 10};
    pit_histogram_bounds b = {le, 3};
    pit_histogram h;
    memset(&h, 0, sizeof h);
    pit_histogram_observe(&h, &b, 0.05);
    pit_histogram_observe(&h, &b, 0.5);
    pit_histogram_observe(&h, &b, 5);
    pit_histogram_observe(&h, &b, 50);
    char text[2048] = "";
    pit_histogram_render(&h, &b, "x_seconds", "pool=\"p\"", collect, text);
    cr_assert_str_eq(text, "x_seconds_bucket{pool=\"p\",le=\"0.1\"} 1\n"
                           "x_seconds_bucket{pool=\"p\",le=\"1\"} 2\n"
                           "x_seconds_bucket{pool=\"p\",le=\"10\"} 3\n"
                           "x_seconds_bucket{pool=\"p\",le=\"+Inf\"} 4\n"
                           "x_seconds_sum{pool=\"p\"} 55.550000\n"
                           "x_seconds_count{pool=\"p\"} 4\n");
}
