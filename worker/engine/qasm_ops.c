/* Op lists: the flat circuit's storage, shared by the parser and the standard gates' expansion.
 * An op owns its bodies and its condition's nodes. */
#include <stdlib.h>
#include <string.h>

#include "engine/qasm_internal.h"
#include "alloc.h"

qasm_op *qasm_oplist_push(qasm_oplist *l) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->ops = pit_realloc(l->ops, l->cap * sizeof(qasm_op));
    }
    memset(&l->ops[l->n], 0, sizeof(qasm_op));
    return &l->ops[l->n++];
}

static void ops_free(qasm_op *ops, size_t n);
void qasm_ops_free_bodies(qasm_op *ops, size_t n) {
    for (size_t i = 0; i < n; i++) {
        ops_free(ops[i].body, ops[i].n_body);
        ops_free(ops[i].else_body, ops[i].n_else);
        free(ops[i].cond.nodes);
    }
}
static void ops_free(qasm_op *ops, size_t n) {
    if (!ops) return;
    qasm_ops_free_bodies(ops, n);
    free(ops);
}

void qasm_oplist_free(qasm_oplist *l) {
    ops_free(l->ops, l->n);
    memset(l, 0, sizeof *l);
}

void qasm_circuit_free(qasm_circuit *c) {
    ops_free(c->ops, c->n_ops);
    c->ops = NULL;
    c->n_ops = 0;
}
