/* Classical expressions over measured bits (qasm_cexpr), evaluated shot by shot: conditions of if and
 * while, switch targets, values assigned to bits. The parser folds everything else. */
#include <math.h>
#include <stdint.h>

#include "engine/qasm.h"

/* Bitwise operators act on the value as an unsigned 64-bit number (negative ones wrap, as int's). */
static uint64_t as_bits(double v) {
    if (!(fabs(v) < 9.2e18)) return 0;
    return (uint64_t)(int64_t)v;
}

/* The tree's depth is bounded by the parser's max_depth, so the recursion is too. */
static double eval_node(const qasm_cnode *nodes, int i, uint64_t bits) {
    const qasm_cnode *n = &nodes[i];
    double a = 0, b = 0;
    if (n->kind >= CX_NEG && n->kind != CX_LAND && n->kind != CX_LOR) {
        a = eval_node(nodes, n->a, bits);
        if (n->kind >= CX_ADD && n->kind <= CX_GE) b = eval_node(nodes, n->b, bits);
    }
    switch ((qasm_cnode_kind)n->kind) {
    case CX_CONST: return n->value;
    case CX_BITS: {
        uint64_t mask = n->len >= 64 ? ~0ull : ((1ull << n->len) - 1);
        return (double)((bits >> n->start) & mask);
    }
    case CX_NEG: return -a;
    case CX_NOT: return a == 0;
    case CX_BNOT: { /* on a register: its width's bits; on a number: as a signed int's */
        uint64_t v = ~as_bits(a);
        if (!n->width) return (double)(int64_t)v;
        if (n->width < 64) v &= (1ull << n->width) - 1;
        return (double)v;
    }
    case CX_ADD: return a + b;
    case CX_SUB: return a - b;
    case CX_MUL: return a * b;
    case CX_DIV: /* whole numbers divide as integers do; x / 0 is 0, never a trap */
        if (b == 0) return 0;
        return a == trunc(a) && b == trunc(b) ? trunc(a / b) : a / b;
    case CX_MOD: return b == 0 ? 0 : fmod(a, b);
    case CX_POW: return pow(a, b);
    case CX_SHL: return b >= 64 || b < 0 ? 0 : (double)(as_bits(a) << (int)b);
    case CX_SHR: return b >= 64 || b < 0 ? 0 : (double)(as_bits(a) >> (int)b);
    case CX_BAND: return (double)(as_bits(a) & as_bits(b));
    case CX_BOR: return (double)(as_bits(a) | as_bits(b));
    case CX_BXOR: return (double)(as_bits(a) ^ as_bits(b));
    case CX_LAND: return eval_node(nodes, n->a, bits) != 0 && eval_node(nodes, n->b, bits) != 0;
    case CX_LOR: return eval_node(nodes, n->a, bits) != 0 || eval_node(nodes, n->b, bits) != 0;
    case CX_EQ: return a == b;
    case CX_NE: return a != b;
    case CX_LT: return a < b;
    case CX_LE: return a <= b;
    case CX_GT: return a > b;
    case CX_GE: return a >= b;
    case CX_BOOL: return a != 0;
    case CX_TRUNC: return trunc(a);
    }
    return 0;
}

double qasm_cexpr_eval(const qasm_cexpr *e, uint64_t bits) {
    if (!e->n) return 0;
    return eval_node(e->nodes, e->n - 1, bits);
}
