/*
 * OpenQASM 2.0 and 3 (the subset in docs/engine.md) -> qasm_circuit. One pass over the tokens;
 * gate definitions keep their body's tokens and are expanded at each call, with the call's
 * parameters and qubits bound, into primitive ops. Every error names line:col and what was expected.
 */
#include <ctype.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/qasm_internal.h"
#include "alloc.h"

/* ---------------------------------------------------------------- tokens */

typedef enum { T_EOF, T_ID, T_NUM, T_STR, T_PUNCT } tok_type;

/* Op lists open at once (see parser.live); above any max_depth the callers use. */
#define LIVE_MAX 256
/* Conditions and loops on measured bits inside each other: each holds a live list, so this is never
 * the first limit met. */
#define QASM_MAX_RUNTIME_DEPTH LIVE_MAX
/* Whole numbers in the source are read up to this; anything larger is clamped to it, which every
 * caller then refuses as out of range (no float-to-integer overflow). */
#define INT_LITERAL_MAX 1000000000L

typedef struct {
    tok_type type;
    const char *s; /* into the source */
    int len;
    double num;
    int is_int;
    int line, col;
} token;

typedef struct {
    const char *name;
    char **params;
    int n_params;
    char **qargs;
    int n_qargs;
    /* The body's tokens, copied out of the stream (which forgets them once the definition ends):
     * body_n tokens, then the closing '}' and a T_EOF sentinel. */
    token *body;
    int body_n;
} gate_def;

typedef struct {
    const char **names;
    const double *values;
    int n;
} param_env;

typedef struct {
    const char **names;
    const int *qubits;
    int n;
} qubit_env;

/* Tokens are kept in blocks of TOK_BLOCK that never move: callers hold token pointers while they
 * parse a statement. */
#define TOK_BLOCK_SHIFT 10
#define TOK_BLOCK (1 << TOK_BLOCK_SHIFT)

/* Classical arrays: at most this many dimensions, and this many values in all (they are folded like
 * the scalars, so their size is the circuit's memory, not the state's). */
#define QASM_MAX_ARRAY_DIMS 4
#define QASM_MAX_ARRAY_VALUES 65536

typedef struct {
    /* The token stream, read as the parser asks for it. Blocks before the current top-level
     * statement are freed, so what is held is that statement's tokens, not the whole text's (60 MB of
     * ';' took 3 GB when every token was kept). */
    token **blocks;
    int cap_blocks, first_block; /* blocks[first_block ..] are allocated */
    int n_toks;                  /* tokens read so far (stream index) */
    int pos;                     /* the next token: a stream index, or into body while expanding */
    const char *src, *lex_at, *line_start;
    int line, lexed_eof;
    token *body; /* a gate body being expanded (gate_def.body), or NULL: the stream */
    int body_len; /* tokens in body, the sentinel included */
    qasm_circuit *c;
    const qasm_limits *lim;
    qasm_error *err;
    jmp_buf fail;
    gate_def *defs;
    int n_defs, cap_defs;
    int def_pending; /* defs[n_defs] is half-built */
    int depth;
    /* Op lists being built live here, not on the C stack: an error longjmps past the frames that
     * use them, and qasm_parse frees whatever is still open. One per open gate call or if block, so
     * their number is bounded by max_depth. */
    qasm_oplist live[LIVE_MAX];
    int n_live;
    /* Classical scalars (input, const, float/int/uint/angle/bool, loop variables). While their values
     * are known before the run, the parser folds them where they are used; an assignment changes the
     * value from there on. An int, uint or bool that is given a value that depends on measured bits,
     * or is assigned under a condition on them (runtime_depth above the variable's), moves into
     * classical bits of its own from then on (bits_start, bits_len: var_to_bits): its assignments
     * become OP_SETBITS and its reads CX_BITS, evaluated shot by shot. */
    struct {
        char name[64];
        double value;
        char type;     /* 'f' float or angle, 'i' int, 'u' uint, 'b' bool */
        char is_const; /* const or input: not assignable */
        char is_loop;  /* a for loop's variable: the loop sets it */
        int width;     /* declared size (int[8]: 8), 0 if none */
        int runtime_depth;
        int bits_start, bits_len; /* bits_start -1: a value known before the run */
    } vars[64];
    int n_vars;
    /* The list that receives the statements at each runtime depth (the one the open OP_IF or
     * OP_WHILE goes into): a variable that moves into bits under a condition gets its value there,
     * before the condition. */
    qasm_oplist *runtime_out[QASM_MAX_RUNTIME_DEPTH];
    uint64_t var_bits_free; /* bits of variables gone out of scope, for the next ones */
    /* Classical arrays (array[int[32], 4] a = {...}): like the scalars, values known before the run,
     * kept in one pool (array_values[base ..]); scoped like them. */
    struct {
        char name[64];
        char type;
        int n_dims, dims[QASM_MAX_ARRAY_DIMS];
        int base, size, runtime_depth;
    } arrays[16];
    int n_arrays;
    double *array_values;
    int n_array_values, cap_array_values;
    long loop_iterations; /* all loops' unrolled iterations together: bounded (QASM_MAX_LOOP_ITERATIONS) */
    size_t n_other_ops;   /* ops other than gates emitted so far (op_push): bounded by max_gates */
    /* Expression nodes being built (see xv); a statement resets the count to where it found it. */
    qasm_cnode *xn;
    int n_xn, cap_xn;
    int runtime_depth; /* branches and loops open that depend on measured bits */
    /* Loops open: parse-time (for, while on a constant) or run-time (while on measured bits). */
    struct loop_state {
        int runtime, runtime_depth;
        /* A loop that unrolls: -1, or its two classical bits (flag: a break on measured bits was
         * taken, flag + 1: a continue in this iteration), allocated at its first break or continue
         * under a condition on measured bits; every statement of the loop after it is then guarded by
         * both being 0 (parse_statement). */
        int flag;
    } loops[64];
    int n_loops, loop_base; /* loop_base: a subroutine's body sees only the loops it opens */
    enum { J_NONE, J_BREAK, J_CONTINUE, J_RETURN } jump; /* a parse-time break/continue/return pending */
    /* let aliases and subroutine arguments: names for lists of qubits or bits, innermost last. */
    struct alias {
        char name[64];
        int quantum, scalar, n;
        int8_t idx[QASM_MAX_QUBITS];
    } *aliases;
    int n_aliases, cap_aliases;
    struct subdef *subs; /* def subroutines */
    int n_subs, cap_subs;
    int sub_pending; /* subs[n_subs] is half-built */
    int var_base;    /* vars[var_base ..] are the innermost subroutine's */
    long vars_read;  /* variables read in expressions so far (a while's condition reads none: while (true)) */
    /* Where a subroutine's return value goes (set by its call). */
    struct ret_target {
        int active; /* inside a subroutine's body */
        int kind;   /* 0 nowhere, 1 classical bits, 2 a variable */
        int n;
        int8_t bits[QASM_MAX_CBITS];
        int var;
        int runtime_depth; /* the call's */
        /* -1, or the classical bit (hidden) a return on measured bits sets: the body's statements
         * after it are guarded by it being 0 (parse_statement) */
        int flag;
    } ret;
    /* include files being read: their token streams, the outer ones saved here (freed on error). */
    struct stream_state {
        token **blocks;
        int cap_blocks, first_block, n_toks, pos;
        const char *src, *lex_at, *line_start;
        int line, lexed_eof;
        token *body;
        int body_len;
        const char *file;
    } streams[8];
    int n_streams;
    const char *file; /* the include being read, for error messages; NULL: the circuit itself */
} parser;

/* A def subroutine: its parameters and a copy of its body's tokens (as gate_def's). */
typedef struct subdef {
    char *name;
    int n_params;
    struct {
        char *name;
        char kind; /* 'c' classical value, 'q' qubits, 'b' classical bits */
        int size;  /* qubits/bits: 0 for a scalar qubit or bit */
        char type; /* 'c': as parser.vars' type */
    } params[16];
    char ret; /* 0: nothing; 'b' bits; else a classical type */
    token *body;
    int body_n;
} subdef;

static void fail_at(parser *p, const token *t, qasm_error_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), noreturn));
static void fail_at(parser *p, const token *t, qasm_error_kind kind, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->err->kind = kind;
    p->err->line = t ? t->line : 0;
    p->err->col = t ? t->col : 0;
    if (t && p->file)
        snprintf(p->err->message, sizeof p->err->message, "%s:%d:%d: %s", p->file, t->line, t->col, msg);
    else if (t)
        snprintf(p->err->message, sizeof p->err->message, "%d:%d: %s", t->line, t->col, msg);
    else
        snprintf(p->err->message, sizeof p->err->message, "%s", msg);
    longjmp(p->fail, 1);
}

/* A zeroed op list owned by the parser, freed by live_close or, after an error, by qasm_parse. */
static qasm_oplist *live_open(parser *p, const token *at) {
    if (p->n_live == LIVE_MAX)
        fail_at(p, at, QASM_TOO_LARGE, "more than %d gate calls and if blocks nested inside each other", LIVE_MAX);
    qasm_oplist *l = &p->live[p->n_live++];
    memset(l, 0, sizeof *l);
    return l;
}
/* Closes the innermost open list; its ops are freed unless the caller took them (set l->ops NULL). */
static void live_close(parser *p) {
    qasm_oplist *l = &p->live[--p->n_live];
    qasm_oplist_free(l);
}

/* Once per kind: what was accepted but cannot be honoured by a state-vector simulation. */
static void warn_once(parser *p, const char *msg) {
    qasm_circuit *c = p->c;
    for (int i = 0; i < c->n_warnings; i++)
        if (strcmp(c->warnings[i], msg) == 0) return;
    if (c->n_warnings < QASM_MAX_WARNINGS) snprintf(c->warnings[c->n_warnings++], sizeof c->warnings[0], "%s", msg);
}

static void describe(const token *t, char *out, size_t len) {
    if (t->type == T_EOF)
        snprintf(out, len, "the end of the program");
    else
        snprintf(out, len, "'%.*s'", t->len > 40 ? 40 : t->len, t->s);
}

/* The next token after p->lex_at, appended to the stream (its block allocated as needed). */
static void lex_one(parser *p) {
    const char *s = p->lex_at;
    /* whitespace and comments */
    for (;;) {
        if (*s == '\n') {
            p->line++;
            p->line_start = ++s;
        } else if (isspace((unsigned char)*s)) {
            s++;
        } else if ((s[0] == '/' && s[1] == '/') || strncmp(s, "#pragma", 7) == 0) {
            /* A pragma is for some other tool; it runs to the end of its line. */
            if (s[0] == '#') warn_once(p, "#pragma lines are ignored");
            while (*s && *s != '\n') s++;
        } else if (s[0] == '/' && s[1] == '*') {
            token t = {T_PUNCT, s, 2, 0, 0, p->line, (int)(s - p->line_start) + 1};
            s += 2;
            while (*s && !(s[0] == '*' && s[1] == '/')) {
                if (*s == '\n') {
                    p->line++;
                    p->line_start = s + 1;
                }
                s++;
            }
            if (!*s) fail_at(p, &t, QASM_SYNTAX, "unterminated /* comment");
            s += 2;
        } else {
            break;
        }
    }
    int b = p->n_toks >> TOK_BLOCK_SHIFT;
    if (b == p->cap_blocks) {
        int cap = p->cap_blocks ? p->cap_blocks * 2 : 16;
        p->blocks = pit_realloc(p->blocks, (size_t)cap * sizeof(token *));
        memset(p->blocks + p->cap_blocks, 0, (size_t)(cap - p->cap_blocks) * sizeof(token *));
        p->cap_blocks = cap;
    }
    if (!p->blocks[b]) p->blocks[b] = pit_malloc(TOK_BLOCK * sizeof(token));
    token *t = &p->blocks[b][p->n_toks & (TOK_BLOCK - 1)];
    p->n_toks++;
    t->s = s;
    t->line = p->line;
    t->col = (int)(s - p->line_start) + 1;
    t->is_int = 0;
    t->num = 0;
    if (!*s) {
        t->type = T_EOF;
        t->len = 0;
        p->lexed_eof = 1;
        p->lex_at = s;
        return;
    }
    unsigned char c = (unsigned char)*s;
    if (isalpha(c) || c == '_' || c >= 0x80) {
        /* identifiers; UTF-8 letters (pi, tau, euler as π τ ℇ) are identifier characters */
        while (isalnum((unsigned char)*s) || *s == '_' || (unsigned char)*s >= 0x80) s++;
        t->type = T_ID;
    } else if (isdigit(c) || (c == '.' && isdigit((unsigned char)s[1]))) {
        char *end;
        t->num = strtod(s, &end);
        t->is_int = 1;
        for (const char *k = s; k < end; k++)
            if (*k == '.' || *k == 'e' || *k == 'E') t->is_int = 0;
        s = end;
        t->type = T_NUM;
    } else if (c == '"') {
        s++;
        while (*s && *s != '"' && *s != '\n') s++;
        if (*s != '"') {
            t->len = 1;
            t->type = T_PUNCT;
            fail_at(p, t, QASM_SYNTAX, "unterminated string");
        }
        s++;
        t->type = T_STR;
    } else {
        static const char *const two[] = {"->", "==", "!=", "<=", ">=", "&&", "||", "**", "<<", ">>", "++", "+=",
                                          "-=", "*=", "/=", "%=", "&=", "|=", "^=", "~=", NULL};
        t->type = T_PUNCT;
        s++;
        for (int k = 0; two[k]; k++)
            if (t->s[0] == two[k][0] && t->s[1] == two[k][1]) s = t->s + 2;
        /* <<= >>= **= */
        if (s == t->s + 2 && s[0] == '=' && (strncmp(t->s, "<<", 2) == 0 || strncmp(t->s, ">>", 2) == 0 ||
                                               strncmp(t->s, "**", 2) == 0))
            s++;
    }
    t->len = (int)(s - t->s);
    p->lex_at = s;
}

/* Token i of the stream (read up to it if need be; past the end: the T_EOF token), or of the body
 * being expanded. */
static token *tok_at(parser *p, int i) {
    if (p->body) return &p->body[i < p->body_len ? i : p->body_len - 1];
    while (i >= p->n_toks && !p->lexed_eof) lex_one(p);
    if (i >= p->n_toks) i = p->n_toks - 1;
    return &p->blocks[i >> TOK_BLOCK_SHIFT][i & (TOK_BLOCK - 1)];
}

/* Between top-level statements (no token pointer is held): frees the blocks before the next token. */
static void tokens_forget_read(parser *p) {
    int keep = p->pos >> TOK_BLOCK_SHIFT;
    for (; p->first_block < keep; p->first_block++) {
        free(p->blocks[p->first_block]);
        p->blocks[p->first_block] = NULL;
    }
}

static void tokens_free(parser *p) {
    for (int b = 0; b < p->cap_blocks; b++) free(p->blocks[b]);
    free(p->blocks);
    p->blocks = NULL;
}

static token *peek(parser *p) { return tok_at(p, p->pos); }
static token *next(parser *p) {
    token *t = tok_at(p, p->pos);
    if (t->type != T_EOF) p->pos++;
    return t;
}
static int tok_is(const token *t, const char *s) { return t->len == (int)strlen(s) && strncmp(t->s, s, (size_t)t->len) == 0; }
static int accept(parser *p, const char *s) {
    if (tok_is(peek(p), s) && peek(p)->type != T_STR) {
        next(p);
        return 1;
    }
    return 0;
}

static void expect(parser *p, const char *s, const char *context) {
    if (accept(p, s)) return;
    char got[64];
    describe(peek(p), got, sizeof got);
    fail_at(p, peek(p), QASM_SYNTAX, "expected '%s' %s, got %s", s, context, got);
}

static token *expect_id(parser *p, const char *what) {
    if (peek(p)->type == T_ID) return next(p);
    char got[64];
    describe(peek(p), got, sizeof got);
    fail_at(p, peek(p), QASM_SYNTAX, "expected %s, got %s", what, got);
}

static long expect_int(parser *p, const char *what) {
    token *t = peek(p);
    if (t->type != T_NUM || !t->is_int) {
        char got[64];
        describe(t, got, sizeof got);
        fail_at(p, t, QASM_SYNTAX, "expected %s (a whole number), got %s", what, got);
    }
    next(p);
    return t->num > (double)INT_LITERAL_MAX ? INT_LITERAL_MAX : (long)t->num;
}

static char *tok_dup(const token *t) {
    char *s = pit_malloc((size_t)t->len + 1);
    memcpy(s, t->s, (size_t)t->len);
    s[t->len] = 0;
    return s;
}

/* Every recursive step of the parser goes through enter(): the C stack it uses is bounded by
 * max_depth, whatever the input. */
static void enter(parser *p, const token *t) {
    if (++p->depth > p->lim->max_depth)
        fail_at(p, t, QASM_TOO_LARGE,
                "nesting deeper than %d levels (max_depth: gate calls inside gate definitions, ifs, parentheses, "
                "function calls and powers)", p->lim->max_depth);
}
static void leave(parser *p) { p->depth--; }

/* ---------------------------------------------------------------- expressions */

/* An operand: one element (count = 1), or several that a call broadcasts over (whole): a register
 * (count = size, from start), or a range or set of its indices (q[0:2], q[{0, 3}]), listed. */
typedef struct {
    int start, count, whole;
    const token *at;
    int has_list;
    int list[QASM_MAX_QUBITS];
} operand;

static operand parse_operand(parser *p, int quantum, const qubit_env *local);
static int op_qubit(const operand *o, int i) { return o->has_list ? o->list[i] : o->start + i; }
static qasm_register *find_reg(qasm_register *regs, int n, const token *t);
static struct alias *find_alias(parser *p, const token *t);
static int find_array(parser *p, const token *t);
static int array_element(parser *p, int a, const token *name);
static subdef *find_sub(parser *p, const token *t);

/* An expression's value while it is parsed: a constant (node < 0: v), or a tree of nodes in p->xn
 * that reads measured bits and is evaluated shot by shot (qasm_cexpr). Constants fold as they meet. */
typedef struct {
    int node;
    double v;
} xv;

static xv x_const(double v) { return (xv){-1, v}; }

static int xn_push(parser *p, qasm_cnode n) {
    if (p->n_xn == p->cap_xn) {
        p->cap_xn = p->cap_xn ? p->cap_xn * 2 : 64;
        p->xn = pit_realloc(p->xn, (size_t)p->cap_xn * sizeof(qasm_cnode));
    }
    p->xn[p->n_xn] = n;
    return p->n_xn++;
}
static int xv_node(parser *p, xv a) {
    if (a.node >= 0) return a.node;
    return xn_push(p, (qasm_cnode){.kind = CX_CONST, .value = a.v});
}
static xv x_bits(parser *p, int start, int len) {
    return (xv){xn_push(p, (qasm_cnode){.kind = CX_BITS, .start = (uint8_t)start, .len = (uint8_t)len}), 0};
}

static double fold(qasm_cnode_kind k, double a, double b, int width) {
    qasm_cnode n[3] = {{.kind = CX_CONST, .value = a}, {.kind = CX_CONST, .value = b},
                       {.kind = (uint8_t)k, .a = 0, .b = 1, .width = (uint8_t)width}};
    qasm_cexpr e = {n, 3};
    return qasm_cexpr_eval(&e, 0);
}

static int is_whole(double v) { return v == nearbyint(v) && fabs(v) < 9.2e18; }

/* Trees on measured bits are evaluated by recursion: their depth is bounded (c + c + c ... would
 * otherwise be as deep as it is long). */
static uint16_t x_depth(parser *p, const token *at, int a, int b) {
    int d = 1 + (a >= 0 ? p->xn[a].depth : 0);
    if (b >= 0 && 1 + p->xn[b].depth > d) d = 1 + p->xn[b].depth;
    if (d > QASM_MAX_EXPR_DEPTH)
        fail_at(p, at, QASM_TOO_LARGE, "an expression on measured bits more than %d operations deep", QASM_MAX_EXPR_DEPTH);
    return (uint16_t)d;
}

static xv x_unop(parser *p, qasm_cnode_kind k, xv a, int width) {
    if (a.node < 0) return x_const(fold(k, a.v, 0, width));
    uint16_t d = x_depth(p, NULL, a.node, -1);
    return (xv){xn_push(p, (qasm_cnode){.kind = (uint8_t)k, .a = a.node, .width = (uint8_t)width, .depth = d}), 0};
}

static xv x_binop(parser *p, const token *at, qasm_cnode_kind k, xv a, xv b) {
    if (a.node < 0 && b.node < 0) {
        if (k == CX_DIV || k == CX_MOD) {
            if (b.v == 0) fail_at(p, at, QASM_SYNTAX, "division by zero");
            if (k == CX_DIV) return x_const(a.v / b.v); /* angles divide as reals: pi/2, 1/2 */
        }
        if ((k >= CX_SHL && k <= CX_BXOR) && (!is_whole(a.v) || !is_whole(b.v)))
            fail_at(p, at, QASM_SYNTAX, "'%.*s' needs whole numbers, got %g and %g%s", at->len, at->s, a.v, b.v,
                    k == CX_BXOR ? " (in OpenQASM 3, ^ is exclusive or: write ** for a power)" : "");
        return x_const(fold(k, a.v, b.v, 0));
    }
    int na = xv_node(p, a), nb = xv_node(p, b);
    uint16_t d = x_depth(p, at, na, nb);
    return (xv){xn_push(p, (qasm_cnode){.kind = (uint8_t)k, .a = na, .b = nb, .depth = d}), 0};
}

/* A copy of the tree under v, children before parents, for an op to own. */
static int take_node(parser *p, int i, qasm_cexpr *out) {
    qasm_cnode n = p->xn[i];
    if (n.kind >= CX_NEG) n.a = take_node(p, p->xn[i].a, out);
    if (n.kind >= CX_ADD && n.kind <= CX_GE) n.b = take_node(p, p->xn[i].b, out);
    out->nodes[out->n] = n;
    return out->n++;
}
static int count_nodes(parser *p, int i) {
    const qasm_cnode *n = &p->xn[i];
    int c = 1;
    if (n->kind >= CX_NEG) c += count_nodes(p, n->a);
    if (n->kind >= CX_ADD && n->kind <= CX_GE) c += count_nodes(p, n->b);
    return c;
}
static qasm_cexpr x_take(parser *p, xv v) {
    qasm_cexpr e;
    int node = xv_node(p, v);
    e.nodes = pit_malloc((size_t)count_nodes(p, node) * sizeof(qasm_cnode));
    e.n = 0;
    take_node(p, node, &e);
    return e;
}

/* The unsigned number a list of classical bits reads as (bit 0 the first): contiguous runs as
 * CX_BITS leaves, shifted into place and or-ed. */
static xv x_bits_of(parser *p, const token *at, const operand *o) {
    xv v = x_const(0);
    for (int i = 0; i < o->count;) {
        int start = op_qubit(o, i), len = 1;
        while (i + len < o->count && op_qubit(o, i + len) == start + len) len++;
        xv run = x_bits(p, start, len);
        if (i) run = x_binop(p, at, CX_SHL, run, x_const(i));
        v = i ? x_binop(p, at, CX_BOR, v, run) : run;
        i += len;
    }
    return v;
}

static xv x_or(parser *p, const param_env *env);

/* A variable that lives in bits (var_to_bits): its value, as its type reads them (an int's top bit
 * is its sign). */
static xv x_var_bits(parser *p, int slot) {
    int w = p->vars[slot].bits_len;
    xv u = x_bits(p, p->vars[slot].bits_start, w);
    if (p->vars[slot].type != 'i') return u;
    xv negative = x_binop(p, NULL, CX_GE, u, x_const(ldexp(1, w - 1)));
    return x_binop(p, NULL, CX_SUB, u, x_binop(p, NULL, CX_MUL, negative, x_const(ldexp(1, w))));
}
static xv x_unary(parser *p, const param_env *env);

static int is_type_name(const token *t) {
    return t->type == T_ID && (tok_is(t, "float") || tok_is(t, "int") || tok_is(t, "uint") || tok_is(t, "angle") ||
                               tok_is(t, "bool") || tok_is(t, "bit"));
}

static xv x_primary(parser *p, const param_env *env) {
    token *t = peek(p);
    if (accept(p, "(")) {
        enter(p, t);
        xv v = x_or(p, env);
        expect(p, ")", "to close the parenthesis");
        leave(p);
        return v;
    }
    if (t->type == T_NUM) {
        next(p);
        return x_const(t->num);
    }
    if (t->type == T_STR) { /* a bit string, "0101": the first character is the highest bit */
        next(p);
        double v = 0;
        int n = 0;
        for (int i = 1; i < t->len - 1; i++) {
            if (t->s[i] == '_') continue;
            if (t->s[i] != '0' && t->s[i] != '1')
                fail_at(p, t, QASM_SYNTAX, "a bit string holds 0s and 1s only, got %.*s", t->len, t->s);
            if (++n > 64) fail_at(p, t, QASM_SYNTAX, "a bit string of more than 64 bits");
            v = v * 2 + (t->s[i] - '0');
        }
        return x_const(v);
    }
    if (t->type == T_ID) {
        next(p);
        if (tok_is(t, "pi") || tok_is(t, "\xcf\x80")) return x_const(M_PI);
        if (tok_is(t, "tau") || tok_is(t, "\xcf\x84")) return x_const(2 * M_PI);
        if (tok_is(t, "euler") || tok_is(t, "\xe2\x84\x87")) return x_const(M_E);
        if (tok_is(t, "true")) return x_const(1);
        if (tok_is(t, "false")) return x_const(0);
        for (int i = 0; env && i < env->n; i++)
            if (tok_is(t, env->names[i])) return x_const(env->values[i]);
        for (int i = p->n_vars - 1; i >= 0; i--)
            if (tok_is(t, p->vars[i].name)) {
                p->vars_read++;
                return p->vars[i].bits_start >= 0 ? x_var_bits(p, i) : x_const(p->vars[i].value);
            }
        int arr = find_array(p, t);
        if (arr >= 0) {
            p->vars_read++;
            return x_const(p->array_values[array_element(p, arr, t)]);
        }
        if (is_type_name(t)) { /* a cast: int(x), uint[8](c), bool(b), float(x), bit[4](x) */
            long size = 0;
            if (accept(p, "[")) {
                size = expect_int(p, "the type's size");
                expect(p, "]", "after the type's size");
            }
            expect(p, "(", "after the type (a cast: int(x))");
            enter(p, t);
            xv a = x_or(p, env);
            expect(p, ")", "to close the cast");
            leave(p);
            if (tok_is(t, "bool") || (tok_is(t, "bit") && size == 0)) return x_unop(p, CX_BOOL, a, 0);
            if (tok_is(t, "int") || tok_is(t, "uint")) a = x_unop(p, CX_TRUNC, a, 0);
            if (size > 0 && size < 64 && (tok_is(t, "uint") || tok_is(t, "bit")))
                a = x_binop(p, t, CX_BAND, a, x_const((double)((1ull << size) - 1)));
            return a;
        }
        if (find_reg(p->c->cregs, p->c->n_cregs, t) || (find_alias(p, t) && !find_alias(p, t)->quantum)) {
            p->pos--; /* read it as an operand: c, c[i], c[a:b], c[{i, j}] */
            operand o = parse_operand(p, 0, NULL);
            return x_bits_of(p, t, &o);
        }
        if (find_reg(p->c->qregs, p->c->n_qregs, t) || find_alias(p, t))
            fail_at(p, t, QASM_SYNTAX, "'%.*s' is qubits: a classical expression reads bits (measure them first)", t->len,
                    t->s);
        if (find_sub(p, t))
            fail_at(p, t, QASM_SYNTAX, "subroutine '%.*s' can be called as a statement or assigned (x = %.*s(...);), "
                    "not used inside an expression", t->len, t->s, t->len, t->s);
        static const char *const fns[] = {"sin", "cos", "tan", "exp", "ln", "sqrt", "arcsin", "arccos", "arctan", NULL};
        for (int k = 0; fns[k]; k++) {
            if (!tok_is(t, fns[k])) continue;
            expect(p, "(", "after a function name");
            enter(p, t);
            token *at = peek(p);
            xv av = x_or(p, env);
            if (av.node >= 0) fail_at(p, at, QASM_SYNTAX, "%s() of measured bits is not supported", fns[k]);
            double a = av.v;
            expect(p, ")", "to close the function call");
            leave(p);
            switch (k) {
            case 0: return x_const(sin(a));
            case 1: return x_const(cos(a));
            case 2: return x_const(tan(a));
            case 3: return x_const(exp(a));
            case 4:
                if (a <= 0) fail_at(p, t, QASM_SYNTAX, "ln of %g: the argument must be positive", a);
                return x_const(log(a));
            case 5:
                if (a < 0) fail_at(p, t, QASM_SYNTAX, "sqrt of %g: the argument must not be negative", a);
                return x_const(sqrt(a));
            case 6: return x_const(asin(a));
            case 7: return x_const(acos(a));
            default: return x_const(atan(a));
            }
        }
        fail_at(p, t, QASM_SYNTAX, "unknown name '%.*s' in an expression (known: pi, tau, euler, true, false, the "
                "gate's parameters, declared variables, constants and inputs, classical bits, casts, sin cos tan exp ln "
                "sqrt arcsin arccos arctan)", t->len, t->s);
    }
    char got[64];
    describe(t, got, sizeof got);
    fail_at(p, t, QASM_SYNTAX, "expected a number or an expression, got %s", got);
}

/* a ** b (and a ^ b in OpenQASM 2) bind tighter than a unary operator on their left and are
 * right-associative. */
static xv x_power(parser *p, const param_env *env) {
    xv v = x_primary(p, env);
    token *op = peek(p);
    if (accept(p, "**") || (p->c->version == 2 && accept(p, "^"))) {
        enter(p, op);
        v = x_binop(p, op, CX_POW, v, x_unary(p, env));
        leave(p);
    }
    return v;
}

static xv x_unary(parser *p, const param_env *env) {
    /* A run of prefix operators is read in a loop, signs folded: a million '-' must not be a million
     * stack frames. */
    char ops[64];
    int n = 0, negative = 0;
    token *first = peek(p);
    for (;;) {
        if (accept(p, "-")) {
            negative = !negative;
        } else if (accept(p, "+")) {
        } else if (peek(p)->type == T_PUNCT && (tok_is(peek(p), "!") || tok_is(peek(p), "~"))) {
            if (n == 64) fail_at(p, first, QASM_TOO_LARGE, "more than 64 ! and ~ in a row");
            if (negative) ops[n++] = '-';
            negative = 0;
            ops[n++] = next(p)->s[0];
        } else {
            break;
        }
    }
    xv v = x_power(p, env);
    if (negative) v = x_unop(p, CX_NEG, v, 0);
    for (int i = n - 1; i >= 0; i--) {
        if (ops[i] == '~' && v.node < 0 && !is_whole(v.v))
            fail_at(p, first, QASM_SYNTAX, "'~' needs a whole number, got %g", v.v);
        int width = v.node >= 0 && p->xn[v.node].kind == CX_BITS ? p->xn[v.node].len : 0; /* ~c: c's bits */
        v = x_unop(p, ops[i] == '-' ? CX_NEG : ops[i] == '!' ? CX_NOT : CX_BNOT, v, width);
    }
    return v;
}

/* The binary levels, loosest last: * / %, + -, << >>, < <= > >=, == !=, &, ^, |, &&, ||. */
typedef struct {
    const char *tok;
    qasm_cnode_kind kind;
} binop;

static const binop *match_op(parser *p, const binop *ops) {
    token *t = peek(p);
    if (t->type != T_PUNCT) return NULL;
    for (; ops->tok; ops++)
        if (tok_is(t, ops->tok)) return ops;
    return NULL;
}

static xv x_level(parser *p, const param_env *env, int level);

static xv x_operand_of(parser *p, const param_env *env, int level) {
    return level == 0 ? x_unary(p, env) : x_level(p, env, level - 1);
}

/* c == 7 with c two bits wide can never hold: said at the 7 (as OpenQASM 2's if always did). */
static void check_fits(parser *p, xv reg, xv value, const token *vt) {
    if (reg.node < 0 || value.node >= 0 || p->xn[reg.node].kind != CX_BITS) return;
    int len = p->xn[reg.node].len;
    double v = value.v;
    if (v < 0 || !is_whole(v) || (len < 64 && v >= ldexp(1, len)))
        fail_at(p, vt, QASM_SYNTAX, "%g does not fit in %d classical bit(s)", v, len);
}

static xv x_level(parser *p, const param_env *env, int level) {
    static const binop l0[] = {{"*", CX_MUL}, {"/", CX_DIV}, {"%", CX_MOD}, {NULL, 0}};
    static const binop l1[] = {{"+", CX_ADD}, {"-", CX_SUB}, {NULL, 0}};
    static const binop l2[] = {{"<<", CX_SHL}, {">>", CX_SHR}, {NULL, 0}};
    static const binop l3[] = {{"<", CX_LT}, {"<=", CX_LE}, {">", CX_GT}, {">=", CX_GE}, {NULL, 0}};
    static const binop l4[] = {{"==", CX_EQ}, {"!=", CX_NE}, {NULL, 0}};
    static const binop l5[] = {{"&", CX_BAND}, {NULL, 0}};
    static const binop l6[] = {{"^", CX_BXOR}, {NULL, 0}};
    static const binop l7[] = {{"|", CX_BOR}, {NULL, 0}};
    static const binop l8[] = {{"&&", CX_LAND}, {NULL, 0}};
    static const binop l9[] = {{"||", CX_LOR}, {NULL, 0}};
    static const binop *const levels[] = {l0, l1, l2, l3, l4, l5, l6, l7, l8, l9};
    token *lt = peek(p);
    xv v = x_operand_of(p, env, level);
    for (;;) {
        const binop *op = match_op(p, levels[level]);
        if (!op || (op->kind == CX_BXOR && p->c->version == 2)) return v;
        token *at = next(p), *rt = peek(p);
        xv r = x_operand_of(p, env, level);
        if (op->kind == CX_EQ || op->kind == CX_NE) {
            check_fits(p, v, r, rt);
            check_fits(p, r, v, lt);
        }
        v = x_binop(p, at, op->kind, v, r);
    }
}

static xv x_or(parser *p, const param_env *env) { return x_level(p, env, 9); }

/* A value known before the run (gate parameters, indices, sizes ...): one that reads measured bits
 * is refused, naming where. */
static double expr(parser *p, const param_env *env) {
    token *at = peek(p);
    int mark = p->n_xn;
    xv v = x_or(p, env);
    p->n_xn = mark;
    if (v.node >= 0)
        fail_at(p, at, QASM_SYNTAX, "this value depends on measured bits: only if and while conditions, switch and "
                "assignments to bits can use them");
    return v.v;
}

/* An expression whose value must be a finite number (nan and inf come from arcsin(2), exp(1000) ...). */
static double finite_expr(parser *p, const param_env *env, const char *what) {
    token *at = peek(p);
    double v = expr(p, env);
    if (!isfinite(v))
        fail_at(p, at, QASM_SYNTAX, "%s is %s, not a finite number (check the expression's domain)", what,
                isnan(v) ? "nan" : "infinite");
    return v;
}

/* A whole number from a constant expression (a literal, a loop variable, i + 1 ...): indices. */
static long int_value(parser *p, const char *what) {
    token *at = peek(p);
    double v = finite_expr(p, NULL, what);
    if (fabs(v - nearbyint(v)) > 1e-9) fail_at(p, at, QASM_SYNTAX, "%s must be a whole number, got %g", what, v);
    if (fabs(v) > (double)INT_LITERAL_MAX) return v < 0 ? -INT_LITERAL_MAX : INT_LITERAL_MAX;
    return (long)nearbyint(v);
}

/* ---------------------------------------------------------------- registers and operands */

static qasm_register *find_reg(qasm_register *regs, int n, const token *t) {
    for (int i = 0; i < n; i++)
        if (tok_is(t, regs[i].name)) return &regs[i];
    return NULL;
}

static void declare(parser *p, int quantum, const token *name, long size, int scalar) {
    qasm_circuit *c = p->c;
    if (quantum && c->n_qregs && strcmp(c->qregs[0].name, "$") == 0)
        fail_at(p, name, QASM_SYNTAX, "a program that uses physical qubits ($0, ...) cannot declare qubits");
    if (find_reg(c->qregs, c->n_qregs, name) || find_reg(c->cregs, c->n_cregs, name))
        fail_at(p, name, QASM_SYNTAX, "'%.*s' is already declared", name->len, name->s);
    if (size < 1) fail_at(p, name, QASM_SYNTAX, "register '%.*s' needs a size of at least 1", name->len, name->s);
    if ((quantum ? c->n_qregs : c->n_cregs) == 64) fail_at(p, name, QASM_TOO_LARGE, "more than 64 registers");
    /* Checked on the long, before the sum or the cast to int can wrap. */
    if (quantum && (long)c->n_qubits + size > p->lim->max_qubits)
        fail_at(p, name, QASM_TOO_LARGE, "the circuit declares %ld qubits; this backend simulates at most %d",
                (long)c->n_qubits + size, p->lim->max_qubits);
    if (!quantum && (long)c->n_cbits + size > QASM_MAX_CBITS)
        fail_at(p, name, QASM_TOO_LARGE, "the circuit declares %ld classical bits; at most %d are supported",
                (long)c->n_cbits + size, QASM_MAX_CBITS);
    qasm_register *r = quantum ? &c->qregs[c->n_qregs++] : &c->cregs[c->n_cregs++];
    snprintf(r->name, sizeof r->name, "%.*s", name->len, name->s);
    r->size = (int)size;
    r->scalar = scalar;
    if (quantum) {
        r->start = c->n_qubits;
        c->n_qubits += (int)size;
        if (c->n_qubits > p->lim->max_qubits)
            fail_at(p, name, QASM_TOO_LARGE, "the circuit declares %d qubits; this backend simulates at most %d", c->n_qubits,
                    p->lim->max_qubits);
    } else {
        r->start = c->n_cbits;
        c->n_cbits += (int)size;
        if (c->n_cbits > QASM_MAX_CBITS)
            fail_at(p, name, QASM_TOO_LARGE, "the circuit declares %d classical bits; at most %d are supported",
                    c->n_cbits, QASM_MAX_CBITS);
    }
}


/* What an index reads: a register's elements from start, or an alias's list. */
typedef struct {
    const char *name;
    int size, start, scalar;
    const int8_t *map; /* NULL: start + i */
} reg_view;

static int view_at(const reg_view *r, long i) { return r->map ? r->map[i] : r->start + (int)i; }

/* After '[' of name[...]: a range a:b or a:step:b (inclusive, as OpenQASM 3's), or a set {a, b, ...}. */
static void parse_index_list(parser *p, const reg_view *r, operand *o, const token *at, long a) {
    o->has_list = 1;
    o->whole = 1;
    o->count = 0;
    if (accept(p, "{")) {
        do {
            token *it = peek(p);
            long idx = int_value(p, "an index in the set");
            if (idx < 0 || idx >= r->size)
                fail_at(p, it, QASM_SYNTAX, "index %ld is out of range for '%s' (size %d)", idx, r->name, r->size);
            if (o->count == QASM_MAX_QUBITS) fail_at(p, it, QASM_SYNTAX, "more than %d indices", QASM_MAX_QUBITS);
            o->list[o->count++] = view_at(r, idx);
        } while (accept(p, ","));
        expect(p, "}", "after the set of indices");
        return;
    }
    long b = int_value(p, "the range's end (or step)"), step = 1;
    if (accept(p, ":")) {
        step = b;
        b = int_value(p, "the range's end");
    }
    if (step == 0) fail_at(p, at, QASM_SYNTAX, "a range's step cannot be 0");
    if (a < 0 || a >= r->size || b < 0 || b >= r->size)
        fail_at(p, at, QASM_SYNTAX, "the range %ld:%ld is out of range for '%s' (size %d)", a, b, r->name, r->size);
    for (long i = a; step > 0 ? i <= b : i >= b; i += step) o->list[o->count++] = view_at(r, i);
    if (!o->count) fail_at(p, at, QASM_SYNTAX, "the range %ld:%ld:%ld is empty", a, step, b);
}

/* $n, a physical qubit (OpenQASM 3): a program that uses them declares no qubits, and its qubits are
 * $0 .. the highest one used (an implicit register "$"). */
static operand physical_qubit(parser *p, const token *dollar) {
    qasm_circuit *c = p->c;
    token *num = peek(p);
    if (num->type != T_NUM || !num->is_int || num->s != dollar->s + 1)
        fail_at(p, dollar, QASM_SYNTAX, "expected a physical qubit ($0, $1, ...)");
    long n = expect_int(p, "a physical qubit number");
    qasm_register *r = c->n_qregs ? &c->qregs[0] : NULL;
    if (r && strcmp(r->name, "$") != 0)
        fail_at(p, dollar, QASM_SYNTAX, "physical qubits ($%ld) cannot be used in a program that declares qubits", n);
    if (n < 0 || n + 1 > p->lim->max_qubits)
        fail_at(p, dollar, QASM_TOO_LARGE, "physical qubit $%ld: this backend simulates at most %d qubits", n,
                p->lim->max_qubits);
    if (!r) {
        r = &c->qregs[c->n_qregs++];
        snprintf(r->name, sizeof r->name, "$");
        r->start = 0;
        r->size = 0;
    }
    if (n + 1 > r->size) {
        r->size = (int)n + 1;
        c->n_qubits = r->size;
    }
    operand o;
    o.start = (int)n;
    o.count = 1;
    o.whole = 0;
    o.at = dollar;
    o.has_list = 0;
    return o;
}

static operand parse_operand(parser *p, int quantum, const qubit_env *local) {
    if (quantum && !local && peek(p)->type == T_PUNCT && tok_is(peek(p), "$")) return physical_qubit(p, next(p));
    token *name = expect_id(p, quantum ? "a qubit" : "a classical bit");
    operand o;
    o.start = 0;
    o.count = 1;
    o.whole = 0;
    o.at = name;
    o.has_list = 0;
    if (local) { /* inside a gate body: the gate's own qubit arguments only */
        for (int i = 0; i < local->n; i++)
            if (tok_is(name, local->names[i])) {
                o.start = local->qubits[i];
                return o;
            }
        fail_at(p, name, QASM_SYNTAX, "'%.*s' is not a qubit argument of this gate", name->len, name->s);
    }
    reg_view r;
    struct alias *al = find_alias(p, name);
    qasm_register *reg = NULL;
    if (al && al->quantum == quantum) {
        r = (reg_view){al->name, al->n, 0, al->scalar, al->idx};
    } else {
        reg = quantum ? find_reg(p->c->qregs, p->c->n_qregs, name) : find_reg(p->c->cregs, p->c->n_cregs, name);
        if (!reg) {
            int other = al || (quantum ? find_reg(p->c->cregs, p->c->n_cregs, name) != NULL
                                       : find_reg(p->c->qregs, p->c->n_qregs, name) != NULL);
            fail_at(p, name, QASM_SYNTAX, "'%.*s' is %s", name->len, name->s,
                    other ? (quantum ? "classical bits, not qubits" : "qubits, not classical bits")
                          : (quantum ? "not a declared qubit register" : "not a declared classical register"));
        }
        r = (reg_view){reg->name, reg->size, reg->start, reg->scalar, NULL};
    }
    if (accept(p, "[")) {
        token *it = peek(p);
        if (it->type == T_PUNCT && tok_is(it, "{")) {
            parse_index_list(p, &r, &o, it, 0);
            expect(p, "]", "after the indices");
            return o;
        }
        long idx = int_value(p, "an index");
        if (accept(p, ":")) {
            parse_index_list(p, &r, &o, it, idx);
            expect(p, "]", "after the indices");
            return o;
        }
        if (idx < 0 || idx >= r.size)
            fail_at(p, it, QASM_SYNTAX, "index %ld is out of range for '%s' (size %d)", idx, r.name, r.size);
        expect(p, "]", "after the index");
        o.start = view_at(&r, idx);
        return o;
    }
    if (r.scalar) { /* one qubit: repeated, not broadcast, in a gate call over registers */
        o.start = view_at(&r, 0);
        return o;
    }
    o.count = r.size;
    o.whole = 1;
    if (r.map) {
        o.has_list = 1;
        for (int i = 0; i < r.size; i++) o.list[i] = r.map[i];
    } else {
        o.start = r.start;
    }
    return o;
}

static struct alias *find_alias(parser *p, const token *t) {
    for (int i = p->n_aliases - 1; i >= 0; i--)
        if (tok_is(t, p->aliases[i].name)) return &p->aliases[i];
    return NULL;
}

static subdef *find_sub(parser *p, const token *t) {
    for (int i = p->n_subs - 1; i >= 0; i--)
        if (tok_is(t, p->subs[i].name)) return &p->subs[i];
    return NULL;
}

/* A new alias (let, a subroutine's qubit or bit argument) for the elements of o. */
static void alias_add(parser *p, const token *name, int quantum, const operand *o, int scalar) {
    if (p->n_aliases == p->cap_aliases)
        p->aliases = pit_realloc(p->aliases, (size_t)(p->cap_aliases = p->cap_aliases * 2 + 8) * sizeof(struct alias));
    struct alias *a = &p->aliases[p->n_aliases++];
    snprintf(a->name, sizeof a->name, "%.*s", name->len, name->s);
    a->quantum = quantum;
    a->scalar = scalar;
    a->n = o->count;
    for (int i = 0; i < o->count; i++) a->idx[i] = (int8_t)op_qubit(o, i);
}

/* ---------------------------------------------------------------- gates: definition and expansion */

static gate_def *find_def(parser *p, const token *t) {
    for (int i = p->n_defs - 1; i >= 0; i--)
        if (tok_is(t, p->defs[i].name)) return &p->defs[i];
    return NULL;
}

/* After a definition's '{': its body's tokens up to the closing '}', copied out of the stream (which
 * forgets them once the statement ends), then that '}' and a T_EOF sentinel. The banned keywords
 * are refused now, not at the first call: a bad definition is an error even if never used. */
static token *copy_body(parser *p, const token *open, const char *what, const char *const *banned, const char *inside,
                        int *body_n) {
    int body_start = p->pos;
    for (int level = 1; level;) {
        token *t = next(p);
        if (t->type == T_EOF) fail_at(p, open, QASM_SYNTAX, "the body of %s has no closing '}'", what);
        if (t->type == T_PUNCT && tok_is(t, "{")) level++;
        if (t->type == T_PUNCT && tok_is(t, "}")) level--;
        for (int k = 0; t->type == T_ID && banned[k]; k++)
            if (tok_is(t, banned[k])) fail_at(p, t, QASM_SYNTAX, "'%s' is not allowed inside %s", banned[k], inside);
    }
    int close = p->pos - 1, n = close - body_start;
    token *body = pit_malloc((size_t)(n + 2) * sizeof(token));
    for (int i = body_start; i <= close; i++) body[i - body_start] = *tok_at(p, i);
    body[n + 1] = body[n]; /* the sentinel: at the '}', but the end */
    body[n + 1].type = T_EOF;
    body[n + 1].len = 0;
    *body_n = n;
    return body;
}

static void parse_gate_def(parser *p) {
    token *name = expect_id(p, "the new gate's name");
    if (p->n_defs == p->cap_defs) p->defs = pit_realloc(p->defs, (size_t)(p->cap_defs = p->cap_defs * 2 + 8) * sizeof(gate_def));
    gate_def *d = &p->defs[p->n_defs];
    memset(d, 0, sizeof *d);
    p->def_pending = 1;
    d->name = tok_dup(name);
    if (accept(p, "(") && !accept(p, ")")) {
        do {
            token *pn = expect_id(p, "a parameter name");
            d->params = pit_realloc(d->params, (size_t)(d->n_params + 1) * sizeof(char *));
            d->params[d->n_params++] = tok_dup(pn);
        } while (accept(p, ","));
        expect(p, ")", "after the gate's parameters");
    }
    do {
        token *qn = expect_id(p, "a qubit argument name");
        d->qargs = pit_realloc(d->qargs, (size_t)(d->n_qargs + 1) * sizeof(char *));
        d->qargs[d->n_qargs++] = tok_dup(qn);
    } while (accept(p, ","));
    token *open = peek(p);
    expect(p, "{", "to start the gate's body");
    static const char *const banned[] = {"measure", "reset", "if", "qubit", "bit", "qreg", "creg", "gate", NULL};
    char what[96];
    snprintf(what, sizeof what, "gate '%s'", d->name);
    d->body = copy_body(p, open, what, banned, "a gate definition", &d->body_n);
    p->n_defs++; /* visible only after its own body: no recursion */
    p->def_pending = 0;
}

typedef struct {
    enum { MOD_INV, MOD_POW, MOD_CTRL } kind;
    double k;      /* pow exponent, or ctrl count */
    int negative;  /* negctrl */
} modifier;

static void adjoint(qasm_op *op) {
    if (op->kind == OP_GPHASE) {
        op->phase = -op->phase;
        return;
    }
    int dim = 1 << op->n_targets;
    double complex t[16];
    for (int r = 0; r < dim; r++)
        for (int c = 0; c < dim; c++) t[r * dim + c] = conj(op->m[c * dim + r]);
    memcpy(op->m, t, sizeof(double complex) * (size_t)(dim * dim));
}

/* U^k for a 2x2 unitary, through its eigenvectors (U is normal). */
/* l^k on the principal branch, as the spec defines pow(k) @ U: arguments in (-pi, pi]. An eigenvalue
 * of -1 may come with a negative zero imaginary part (the adjoint conjugates -1 + 0i into -1 - 0i),
 * which cpow puts at -pi and so takes the other root: pow(0.5) @ inv @ z was sdg, not s. */
static double complex principal_pow(double complex l, double k) {
    double r = cabs(l), th = atan2(cimag(l), creal(l));
    if (th <= -M_PI + 1e-12) th = M_PI;
    return pow(r, k) * cexp(_Complex_I * k * th);
}

static void pow2x2(double complex *m, double k) {
    double complex a = m[0], b = m[1], c = m[2], d = m[3];
    double complex tr = a + d, det = a * d - b * c;
    double complex disc = csqrt(tr * tr / 4 - det);
    double complex l1 = tr / 2 + disc, l2 = tr / 2 - disc;
    double complex out[4];
    if (cabs(l1 - l2) < 1e-12) { /* a multiple of the identity */
        double complex f = principal_pow(l1, k);
        out[0] = f * a / l1;
        out[1] = f * b / l1;
        out[2] = f * c / l1;
        out[3] = f * d / l1;
    } else {
        /* U^k = f1 P1 + f2 P2 with projectors P1 = (U - l2 I)/(l1 - l2), P2 = (l1 I - U)/(l1 - l2) */
        double complex f1 = principal_pow(l1, k), f2 = principal_pow(l2, k), den = l1 - l2;
        out[0] = (f1 * (a - l2) + f2 * (l1 - a)) / den;
        out[1] = (f1 * b - f2 * b) / den;
        out[2] = (f1 * c - f2 * c) / den;
        out[3] = (f1 * (d - l2) + f2 * (l1 - d)) / den;
    }
    memcpy(m, out, sizeof out);
}

static void apply_modifiers(parser *p, const token *at, const modifier *mods, int n_mods, const int *ctrl_qubits,
                            qasm_oplist *ops) {
    int next_ctrl = 0;
    /* Outermost modifier first consumes the first control operands; apply innermost first. */
    int ctrl_offsets[16], off = 0;
    for (int i = 0; i < n_mods; i++) {
        ctrl_offsets[i] = off;
        if (mods[i].kind == MOD_CTRL) off += (int)mods[i].k;
    }
    for (int i = n_mods - 1; i >= 0; i--) {
        const modifier *m = &mods[i];
        if (m->kind == MOD_INV) {
            for (size_t a = 0, b = ops->n ? ops->n - 1 : 0; a < b; a++, b--) {
                qasm_op t = ops->ops[a];
                ops->ops[a] = ops->ops[b];
                ops->ops[b] = t;
            }
            for (size_t k = 0; k < ops->n; k++) adjoint(&ops->ops[k]);
        } else if (m->kind == MOD_POW) {
            double k = m->k;
            if (k == floor(k)) {
                if (k < 0) {
                    modifier inv = {MOD_INV, 0, 0};
                    apply_modifiers(p, at, &inv, 1, NULL, ops);
                    k = -k;
                }
                size_t n = ops->n;
                if ((double)n * k > (double)p->lim->max_gates)
                    fail_at(p, at, QASM_TOO_LARGE, "pow(%g) makes more than %zu gates (max_gates)", m->k,
                            p->lim->max_gates);
                if (k == 0) {
                    qasm_ops_free_bodies(ops->ops, ops->n);
                    ops->n = 0;
                }
                for (long r = 1; n && r < (long)k; r++)
                    for (size_t j = 0; j < n; j++) {
                        /* Copied out first: the push may move ops->ops. */
                        qasm_op copy = ops->ops[j];
                        *qasm_oplist_push(ops) = copy;
                    }
            } else if (ops->n == 1 && ops->ops[0].kind == OP_GATE && ops->ops[0].n_targets == 1 &&
                       ops->ops[0].n_controls == 0) {
                pow2x2(ops->ops[0].m, k);
                qasm_op_classify(&ops->ops[0]);
            } else {
                fail_at(p, at, QASM_SYNTAX, "pow(%g): a non-integer power is supported for single-qubit gates only", k);
            }
        } else {
            for (int c = 0; c < (int)m->k; c++) {
                int q = ctrl_qubits[ctrl_offsets[i] + c];
                int value = !m->negative;
                for (size_t j = 0; j < ops->n; j++) {
                    qasm_op *op = &ops->ops[j];
                    if (op->kind == OP_GPHASE) {
                        /* A controlled global phase is a phase on the control. */
                        double ph = op->phase;
                        memset(op, 0, sizeof *op);
                        op->kind = OP_GATE;
                        op->n_targets = 1;
                        op->targets[0] = q;
                        op->m[0] = value ? 1 : cexp(_Complex_I * ph);
                        op->m[3] = value ? cexp(_Complex_I * ph) : 1;
                        op->cls = GATE_DIAGONAL;
                        continue;
                    }
                    if (op->n_controls == QASM_MAX_CONTROLS)
                        fail_at(p, at, QASM_TOO_LARGE, "more than %d controls on one gate", QASM_MAX_CONTROLS);
                    op->controls[op->n_controls] = q;
                    op->control_values[op->n_controls++] = value;
                }
            }
            next_ctrl += (int)m->k;
        }
    }
    (void)next_ctrl;
}

static void parse_body(parser *p, qasm_oplist *out, const param_env *penv, const qubit_env *qenv, int in_gate);

/* Expands gate `name` with params on the given qubits (already split from the modifiers' controls)
 * into out. */
static void expand_gate(parser *p, const token *name, const double *params, int n_params, const int *qubits, int n_qubits,
                        qasm_oplist *out) {
    gate_def *d = find_def(p, name);
    if (d) {
        if (n_params != d->n_params)
            fail_at(p, name, QASM_SYNTAX, "gate '%s' takes %d parameter(s), got %d", d->name, d->n_params, n_params);
        if (n_qubits != d->n_qargs)
            fail_at(p, name, QASM_SYNTAX, "gate '%s' acts on %d qubit(s), got %d", d->name, d->n_qargs, n_qubits);
        param_env penv = {(const char **)d->params, params, d->n_params};
        qubit_env qenv = {(const char **)d->qargs, qubits, d->n_qargs};
        int saved = p->pos, saved_len = p->body_len;
        token *saved_body = p->body;
        enter(p, name);
        p->body = d->body;
        p->body_len = d->body_n + 2;
        p->pos = 0;
        while (p->pos < d->body_n) parse_body(p, out, &penv, &qenv, 1);
        p->body = saved_body;
        p->body_len = saved_len;
        p->pos = saved;
        leave(p);
        return;
    }
    char buf[64];
    snprintf(buf, sizeof buf, "%.*s", name->len > 60 ? 60 : name->len, name->s);
    int want_params, want_qubits;
    if (!qasm_std_gate_sig(buf, &want_params, &want_qubits))
        fail_at(p, name, QASM_SYNTAX, "unknown gate '%s' (define it with 'gate', or see backend_info for the gate list)", buf);
    if (n_params != want_params)
        fail_at(p, name, QASM_SYNTAX, "gate '%s' takes %d parameter(s), got %d", buf, want_params, n_params);
    if (n_qubits != want_qubits)
        fail_at(p, name, QASM_SYNTAX, "gate '%s' acts on %d qubit(s), got %d", buf, want_qubits, n_qubits);
    qasm_std_gate_emit(buf, params, qubits, p->c->version, out);
}

/* An op other than a gate (a measurement, a reset, a classical statement, a branch or loop on measured
 * bits) into out: they are bounded by max_gates too, apart from the gates, so that a loop unrolled
 * at parse time cannot fill memory with them (a while on a variable it never changes: a million
 * measurements). */
static qasm_op *op_push(parser *p, qasm_oplist *out) {
    if (++p->n_other_ops > p->lim->max_gates)
        fail_at(p, NULL, QASM_TOO_LARGE, "the circuit has more than %zu measurements, resets and classical statements "
                "(max_gates bounds them too, apart from the gates): a loop that never ends?", p->lim->max_gates);
    return qasm_oplist_push(out);
}

static void count_gates(parser *p, const token *at, size_t n) {
    p->c->n_gates += n;
    if (p->c->n_gates > p->lim->max_gates)
        fail_at(p, at, QASM_TOO_LARGE, "the circuit has more than %zu gates (max_gates)", p->lim->max_gates);
}

/* A gate call, its modifiers already parsed: params, operands (broadcast over registers), expand. */
static void parse_gate_call(parser *p, const token *name, const modifier *mods, int n_mods, qasm_oplist *out,
                            const param_env *penv, const qubit_env *qenv) {
    double params[16];
    int n_params = 0;
    if (accept(p, "(") && !accept(p, ")")) {
        do {
            if (n_params == 16) fail_at(p, peek(p), QASM_SYNTAX, "more than 16 parameters");
            params[n_params++] = finite_expr(p, penv, "a gate parameter");
        } while (accept(p, ","));
        expect(p, ")", "after the gate's parameters");
    }
    operand ops[34];
    int n_ops = 0, width = 1, have_width = 0;
    if (!accept(p, ";")) { /* gphase(t); has no qubits */
    do {
        if (n_ops == 34) fail_at(p, peek(p), QASM_SYNTAX, "too many operands");
        ops[n_ops] = parse_operand(p, 1, qenv);
        if (ops[n_ops].whole) {
            /* Every register in one call has the same size, one of size 1 included (the spec's rule;
             * a size-1 register before a larger one used to index past the first). */
            if (have_width && ops[n_ops].count != width)
                fail_at(p, ops[n_ops].at, QASM_SYNTAX, "registers of different sizes (%d and %d) in one gate call", width,
                        ops[n_ops].count);
            width = ops[n_ops].count;
            have_width = 1;
        }
        n_ops++;
    } while (accept(p, ","));
    expect(p, ";", "after the gate call");
    }
    int n_ctrl = 0; /* each modifier's count is at most QASM_MAX_CONTROLS, so this cannot overflow */
    for (int i = 0; i < n_mods; i++)
        if (mods[i].kind == MOD_CTRL) n_ctrl += (int)mods[i].k;
    if (n_ctrl > QASM_MAX_CONTROLS)
        fail_at(p, name, QASM_TOO_LARGE, "the modifiers ask for %d controls; at most %d are supported", n_ctrl,
                QASM_MAX_CONTROLS);
    if (n_ops < n_ctrl)
        fail_at(p, name, QASM_SYNTAX, "the modifiers need %d control qubit(s) before the gate's own qubits", n_ctrl);
    for (int b = 0; b < width; b++) {
        int q[34];
        for (int i = 0; i < n_ops; i++) q[i] = ops[i].whole ? op_qubit(&ops[i], b) : ops[i].start;
        for (int i = 0; i < n_ops; i++)
            for (int k = 0; k < i; k++)
                if (q[i] == q[k]) fail_at(p, ops[i].at, QASM_SYNTAX, "the same qubit is used twice in one gate call");
        qasm_oplist *local = live_open(p, name);
        expand_gate(p, name, params, n_params, q + n_ctrl, n_ops - n_ctrl, local);
        apply_modifiers(p, name, mods, n_mods, q, local);
        count_gates(p, name, local->n);
        for (size_t k = 0; k < local->n; k++) *qasm_oplist_push(out) = local->ops[k];
        /* The copies in out own the if bodies now; free the array only. */
        free(local->ops);
        local->ops = NULL;
        local->n = 0;
        live_close(p);
    }
}

static void parse_modified_call(parser *p, qasm_oplist *out, const param_env *penv, const qubit_env *qenv) {
    modifier mods[16];
    int n_mods = 0;
    for (;;) {
        token *t = peek(p);
        if (t->type != T_ID) break;
        int is_inv = tok_is(t, "inv"), is_pow = tok_is(t, "pow"), is_ctrl = tok_is(t, "ctrl"), is_neg = tok_is(t, "negctrl");
        if (!(is_inv || is_pow || is_ctrl || is_neg)) break;
        if (n_mods == 16) fail_at(p, t, QASM_SYNTAX, "more than 16 modifiers");
        next(p);
        modifier m = {is_inv ? MOD_INV : is_pow ? MOD_POW : MOD_CTRL, is_ctrl || is_neg ? 1 : 0, is_neg};
        if (is_pow) {
            expect(p, "(", "after pow");
            m.k = finite_expr(p, penv, "pow's exponent");
            expect(p, ")", "after pow's exponent");
        } else if ((is_ctrl || is_neg) && accept(p, "(")) {
            token *at = peek(p);
            m.k = finite_expr(p, penv, "the number of controls");
            if (m.k < 1 || m.k != floor(m.k)) fail_at(p, at, QASM_SYNTAX, "the number of controls must be a whole number >= 1");
            if (m.k > QASM_MAX_CONTROLS)
                fail_at(p, at, QASM_TOO_LARGE, "%g controls on one gate; at most %d are supported", m.k, QASM_MAX_CONTROLS);
            expect(p, ")", "after the number of controls");
        }
        expect(p, "@", "after a gate modifier");
        mods[n_mods++] = m;
    }
    token *name = expect_id(p, "a gate name");
    parse_gate_call(p, name, mods, n_mods, out, penv, qenv);
}

/* ---------------------------------------------------------------- statements */

static void push_measure(parser *p, qasm_oplist *out, const operand *q, const operand *c, const token *at) {
    if (q->count != c->count)
        fail_at(p, at, QASM_SYNTAX, "measuring %d qubit(s) into %d classical bit(s): the sizes must match", q->count, c->count);
    for (int i = 0; i < q->count; i++) {
        qasm_op *op = op_push(p, out);
        op->kind = OP_MEASURE;
        op->targets[0] = op_qubit(q, i);
        op->cbit = op_qubit(c, i);
    }
}

static void parse_body(parser *p, qasm_oplist *out, const param_env *penv, const qubit_env *qenv, int in_gate);

static int is_scalar_type(const token *t) {
    return t->type == T_ID && (tok_is(t, "float") || tok_is(t, "int") || tok_is(t, "uint") || tok_is(t, "angle") ||
                               tok_is(t, "bool"));
}
static char type_char(const token *t) {
    return tok_is(t, "int") ? 'i' : tok_is(t, "uint") ? 'u' : tok_is(t, "bool") ? 'b' : 'f';
}
static double coerce(char type, double v) {
    if (type == 'i' || type == 'u') return trunc(v);
    if (type == 'b') return v != 0;
    return v;
}

/* After a classical type's keyword: its optional [size], which a folded value does not need. */
/* [n] after a type, if there: n, else 0 */
static long skip_type_size(parser *p) {
    long n = 0;
    if (accept(p, "[")) {
        n = expect_int(p, "the type's size");
        expect(p, "]", "after the type's size");
    }
    return n;
}

/* A new classical variable (a declaration's, a loop's, a subroutine argument): its slot. Names are
 * unique from var_base (a subroutine's body starts a new scope). */
static int var_add(parser *p, const token *name, double value, char type, int is_const) {
    for (int i = p->var_base; i < p->n_vars; i++)
        if (tok_is(name, p->vars[i].name))
            fail_at(p, name, QASM_SYNTAX, "'%.*s' is already declared", name->len, name->s);
    if (find_reg(p->c->qregs, p->c->n_qregs, name) || find_reg(p->c->cregs, p->c->n_cregs, name))
        fail_at(p, name, QASM_SYNTAX, "'%.*s' is already declared", name->len, name->s);
    if (p->n_vars == 64) fail_at(p, name, QASM_TOO_LARGE, "more than 64 classical variables");
    snprintf(p->vars[p->n_vars].name, sizeof p->vars[0].name, "%.*s", name->len, name->s);
    p->vars[p->n_vars].value = coerce(type, value);
    p->vars[p->n_vars].type = type;
    p->vars[p->n_vars].is_const = (char)is_const;
    p->vars[p->n_vars].is_loop = 0;
    p->vars[p->n_vars].width = 0;
    p->vars[p->n_vars].runtime_depth = p->runtime_depth;
    p->vars[p->n_vars].bits_start = -1;
    p->vars[p->n_vars].bits_len = 0;
    return p->n_vars++;
}
static void hidden_release(parser *p, int start, int w);

/* Ends the scope of the variables from slot `to` on: their bits (if any) go back to be reused. */
static void vars_pop(parser *p, int to) {
    for (int i = to; i < p->n_vars; i++)
        if (p->vars[i].bits_start >= 0) hidden_release(p, p->vars[i].bits_start, p->vars[i].bits_len);
    if (to < p->n_vars) p->n_vars = to;
}

static int find_var(parser *p, const token *t) {
    for (int i = p->n_vars - 1; i >= 0; i--)
        if (tok_is(t, p->vars[i].name)) return i;
    return -1;
}

static int find_array(parser *p, const token *t) {
    for (int i = p->n_arrays - 1; i >= 0; i--)
        if (tok_is(t, p->arrays[i].name)) return i;
    return -1;
}

/* After an array's name: [i] [j] ... or [i, j, ...], every dimension indexed (negative indices count
 * from the end); the element's place in array_values. */
static int array_element(parser *p, int a, const token *name) {
    int dims[QASM_MAX_ARRAY_DIMS], n = 0;
    while (n < p->arrays[a].n_dims && accept(p, "[")) {
        do {
            if (n == p->arrays[a].n_dims)
                fail_at(p, peek(p), QASM_SYNTAX, "'%s' has %d dimension(s)", p->arrays[a].name, p->arrays[a].n_dims);
            token *at = peek(p);
            long i = int_value(p, "an array index");
            long size = p->arrays[a].dims[n];
            if (i < 0) i += size;
            if (i < 0 || i >= size)
                fail_at(p, at, QASM_SYNTAX, "index out of range: '%s' has %ld element(s) in dimension %d",
                        p->arrays[a].name, size, n + 1);
            dims[n++] = (int)i;
        } while (accept(p, ","));
        expect(p, "]", "after the array's index");
    }
    if (n < p->arrays[a].n_dims)
        fail_at(p, name, QASM_SYNTAX, "'%s' has %d dimensions: index every one (a[i][j]); slices of arrays are not "
                "supported", p->arrays[a].name, p->arrays[a].n_dims);
    int flat = 0;
    for (int k = 0; k < n; k++) flat = flat * p->arrays[a].dims[k] + dims[k];
    return p->arrays[a].base + flat;
}

/* Skips a statement this simulator accepts and ignores: to its ';', or to the '}' closing its block
 * (cal { ... }, defcal ... { ... }), braces balanced. */
static void skip_statement(parser *p, const token *at) {
    int depth = 0;
    for (;;) {
        token *t = next(p);
        if (t->type == T_EOF) fail_at(p, at, QASM_SYNTAX, "'%.*s' has no end (';' or a closing '}')", at->len, at->s);
        if (t->type != T_PUNCT) continue;
        if (tok_is(t, "{")) depth++;
        if (tok_is(t, "}") && --depth <= 0) return;
        if (tok_is(t, ";") && depth == 0) return;
    }
}

/* After an opening bracket (its text: "{" or "("): to the one that closes it. */
static void skip_balanced(parser *p, const token *at, const char *open, const char *close) {
    for (int level = 1; level;) {
        token *t = next(p);
        if (t->type == T_EOF) fail_at(p, at, QASM_SYNTAX, "'%.*s' has no closing '%s'", at->len, at->s, close);
        if (t->type == T_PUNCT && tok_is(t, open)) level++;
        if (t->type == T_PUNCT && tok_is(t, close)) level--;
    }
}
static void skip_block_rest(parser *p, const token *at) { skip_balanced(p, at, "{", "}"); }
static void skip_parens(parser *p, const token *at) {
    expect(p, "(", "after the keyword");
    skip_balanced(p, at, "(", ")");
}

/* One statement or block, unparsed: a branch not taken, a loop that never runs, a case not chosen.
 * Statements with bodies are skipped by their structure (an if's else, a loop's set of values). */
static void skip_stmt(parser *p, const token *at) {
    token *t = peek(p);
    enter(p, t);
    if (accept(p, "{")) {
        skip_block_rest(p, t);
    } else if (accept(p, "if")) {
        skip_parens(p, t);
        skip_stmt(p, t);
        if (accept(p, "else")) skip_stmt(p, t);
    } else if (accept(p, "while")) {
        skip_parens(p, t);
        skip_stmt(p, t);
    } else if (accept(p, "switch")) {
        skip_parens(p, t);
        expect(p, "{", "after the switch's target");
        skip_block_rest(p, t);
    } else if (accept(p, "for")) {
        while (!accept(p, "in")) {
            if (peek(p)->type == T_EOF) fail_at(p, t, QASM_SYNTAX, "expected 'in' in the for loop");
            next(p);
        }
        if (accept(p, "{")) {
            skip_block_rest(p, t);
        } else if (accept(p, "[")) {
            while (!accept(p, "]")) {
                if (peek(p)->type == T_EOF) fail_at(p, t, QASM_SYNTAX, "the loop's range has no closing ']'");
                next(p);
            }
        } else {
            next(p);
        }
        skip_stmt(p, t);
    } else {
        skip_statement(p, at);
    }
    leave(p);
}

/* A block { ... } or one statement. Its declarations end with it; a parse-time break, continue or
 * return skips the rest of it. */
static void runtime_enter(parser *p, qasm_oplist *out, const token *at);
static void take_list(qasm_oplist *l, qasm_op **ops, size_t *n);
static int hidden_take(parser *p, int w, const token *at, const char *what);

/* A statement of a block. Inside a loop that unrolls, after a break or continue on measured bits
 * (loops[].flag), it runs only while neither has been taken: an OP_IF on the loop's bits. */
static void parse_statement(parser *p, qasm_oplist *out) {
    int flag = p->n_loops > p->loop_base && !p->loops[p->n_loops - 1].runtime ? p->loops[p->n_loops - 1].flag : -1;
    int ret_flag = p->ret.active ? p->ret.flag : -1;
    if (flag < 0 && ret_flag < 0) {
        parse_body(p, out, NULL, NULL, 0);
        return;
    }
    token *at = peek(p);
    qasm_oplist *body = live_open(p, at);
    runtime_enter(p, out, at);
    parse_body(p, body, NULL, NULL, 0);
    p->runtime_depth--;
    if (body->n) {
        qasm_op *op = op_push(p, out);
        op->kind = OP_IF;
        int mark = p->n_xn;
        xv go = flag >= 0 ? x_binop(p, at, CX_EQ, x_bits(p, flag, 2), x_const(0)) : x_const(1);
        if (ret_flag >= 0) go = x_binop(p, at, CX_LAND, go, x_binop(p, at, CX_EQ, x_bits(p, ret_flag, 1), x_const(0)));
        op->cond = x_take(p, go);
        p->n_xn = mark;
        take_list(body, &op->body, &op->n_body);
    }
    live_close(p);
    p->c->has_midcircuit = 1;
}

static void parse_block(parser *p, qasm_oplist *out, const token *at) {
    enter(p, at);
    int vars = p->n_vars, aliases = p->n_aliases, arrays = p->n_arrays, array_values = p->n_array_values;
    token *open = peek(p);
    if (accept(p, "{")) {
        for (;;) {
            if (p->jump) {
                skip_block_rest(p, open);
                break;
            }
            if (accept(p, "}")) break;
            if (peek(p)->type == T_EOF) {
                if (at->type == T_ID) fail_at(p, open, QASM_SYNTAX, "the %.*s has no closing '}'", at->len, at->s);
                fail_at(p, open, QASM_SYNTAX, "the block has no closing '}'");
            }
            parse_statement(p, out);
        }
    } else if (p->jump) {
        skip_stmt(p, at);
    } else {
        parse_statement(p, out);
    }
    vars_pop(p, vars);
    p->n_aliases = aliases;
    p->n_arrays = arrays;
    p->n_array_values = array_values;
    leave(p);
}

static void take_list(qasm_oplist *l, qasm_op **ops, size_t *n) {
    *ops = l->ops;
    *n = l->n;
    l->ops = NULL;
    l->n = 0;
}

/* Opens a branch or loop on measured bits, whose op goes into out. */
static void runtime_enter(parser *p, qasm_oplist *out, const token *at) {
    if (p->runtime_depth + 1 >= QASM_MAX_RUNTIME_DEPTH)
        fail_at(p, at, QASM_TOO_LARGE, "more than %d conditions and loops on measured bits inside each other",
                QASM_MAX_RUNTIME_DEPTH - 1);
    p->runtime_out[p->runtime_depth++] = out;
}

/* if (condition) stmt [else stmt]. A condition known before the run chooses its branch now (the
 * other is not even parsed); one on measured bits becomes OP_IF, decided shot by shot. */
static void parse_if(parser *p, qasm_oplist *out, const token *at) {
    expect(p, "(", "after if");
    int mark = p->n_xn;
    xv cond = x_or(p, NULL);
    expect(p, ")", "to close the if condition");
    if (cond.node < 0) {
        p->n_xn = mark;
        if (cond.v != 0) {
            parse_block(p, out, at);
            if (accept(p, "else")) skip_stmt(p, at);
        } else {
            skip_stmt(p, at);
            if (accept(p, "else")) parse_block(p, out, at);
        }
        return;
    }
    qasm_oplist *body = live_open(p, at);
    qasm_oplist *els = live_open(p, at);
    runtime_enter(p, out, at);
    parse_block(p, body, at);
    if (accept(p, "else")) parse_block(p, els, at);
    p->runtime_depth--;
    qasm_op *op = op_push(p, out);
    op->kind = OP_IF;
    op->cond = x_take(p, cond);
    p->n_xn = mark;
    take_list(body, &op->body, &op->n_body);
    take_list(els, &op->else_body, &op->n_else);
    live_close(p);
    live_close(p);
    p->c->has_midcircuit = 1;
}

static void loop_push(parser *p, const token *at, int runtime) {
    if (p->n_loops == 64) fail_at(p, at, QASM_TOO_LARGE, "more than 64 loops inside each other");
    p->loops[p->n_loops].runtime = runtime;
    p->loops[p->n_loops].runtime_depth = p->runtime_depth;
    p->loops[p->n_loops].flag = -1;
    p->n_loops++;
}

static void setbits_const(qasm_oplist *out, int start, int len, double v, parser *p) {
    qasm_op *op = op_push(p, out);
    op->kind = OP_SETBITS;
    op->set_start = start;
    op->set_len = len;
    op->cond = x_take(p, x_const(v));
    p->c->has_midcircuit = 1;
}

/* One iteration of a loop that unrolls at parse time; flag: the loop's bits (loops[].flag) so far,
 * returned as the iteration leaves them. */
static int unrolled_iteration(parser *p, qasm_oplist *out, const token *at, int flag) {
    if (flag >= 0) setbits_const(out, flag + 1, 1, 0, p); /* no continue yet in this iteration */
    loop_push(p, at, 0);
    p->loops[p->n_loops - 1].flag = flag;
    parse_block(p, out, at);
    flag = p->loops[p->n_loops - 1].flag;
    p->n_loops--;
    return flag;
}


static void count_iteration(parser *p, const token *at) {
    if (++p->loop_iterations > QASM_MAX_LOOP_ITERATIONS)
        fail_at(p, at, QASM_TOO_LARGE, "more than %ld loop iterations in the circuit (a loop that never ends?)",
                QASM_MAX_LOOP_ITERATIONS);
}

/* After an iteration of a parse-time loop: 1 when it ends here (break, or a return to pass on). */
static int loop_jumped(parser *p) {
    if (p->jump == J_CONTINUE) p->jump = J_NONE;
    if (p->jump == J_BREAK) {
        p->jump = J_NONE;
        return 1;
    }
    return p->jump == J_RETURN;
}

static const char *const assign_ops[] = {"=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", "**=", NULL};
static const qasm_cnode_kind assign_kinds[] = {CX_CONST, CX_ADD, CX_SUB, CX_MUL, CX_DIV, CX_MOD, CX_BAND,
                                               CX_BOR, CX_BXOR, CX_SHL, CX_SHR, CX_POW};
static void var_to_bits(parser *p, qasm_oplist *out, int slot, const token *at, int keep);

/* Before a loop on measured bits: the int, uint and bool variables its body (from here) assigns move
 * into bits, their values so far kept, so that its condition and body read them as each iteration
 * finds them (folded, they would read the value from before the loop every time). Returns how many
 * moved. A name declared in the body too may move an outer variable needlessly: harmless. */
static int loop_vars_to_bits(parser *p, qasm_oplist *out, const token *at) {
    int start = p->pos, moved = 0;
    skip_stmt(p, at);
    int end = p->pos;
    p->pos = start;
    for (int i = start; i + 1 < end; i++) {
        token *t = tok_at(p, i), *after = tok_at(p, i + 1);
        if (t->type != T_ID || after->type != T_PUNCT) continue;
        int assigns = 0;
        for (int k = 0; assign_ops[k]; k++) assigns |= tok_is(after, assign_ops[k]);
        if (!assigns || (i > start && is_scalar_type(tok_at(p, i - 1)))) continue;
        int slot = find_var(p, t);
        if (slot < 0 || p->vars[slot].type == 'f' || p->vars[slot].is_const || p->vars[slot].is_loop ||
            p->vars[slot].bits_start >= 0)
            continue;
        var_to_bits(p, out, slot, t, 1);
        moved++;
    }
    return moved;
}

/* The rest of a while, from its body (p->pos), as OP_WHILE on cond (read from cond_at), into out. */
static void runtime_while(parser *p, qasm_oplist *out, const token *at, xv cond, int mark, int cond_at) {
    if (loop_vars_to_bits(p, out, at)) { /* the condition reads them at every test */
        p->n_xn = mark;
        p->pos = cond_at;
        cond = x_or(p, NULL);
        expect(p, ")", "to close the while condition");
    }
    qasm_oplist *body = live_open(p, at);
    runtime_enter(p, out, at);
    loop_push(p, at, 1);
    parse_block(p, body, at);
    p->n_loops--;
    p->runtime_depth--;
    qasm_op *op = op_push(p, out);
    op->kind = OP_WHILE;
    op->cond = x_take(p, cond);
    p->n_xn = mark;
    take_list(body, &op->body, &op->n_body);
    live_close(p);
    p->c->has_midcircuit = 1;
}

/* while (condition) body. On values known before the run it unrolls here, the condition read again
 * after every iteration; on measured bits it becomes OP_WHILE, run shot by shot. */
static void parse_while(parser *p, qasm_oplist *out, const token *at) {
    expect(p, "(", "after while");
    int cond_at = p->pos, flag = -1;
    for (int first = 1;; first = 0) {
        p->pos = cond_at;
        int mark = p->n_xn;
        long read = p->vars_read;
        xv cond = x_or(p, NULL);
        expect(p, ")", "to close the while condition");
        /* A condition that reads neither bits nor variables (while (true)) can only end by a break,
         * which may depend on measured bits: such a loop also runs shot by shot. */
        if (first && cond.node < 0 && cond.v != 0 && read == p->vars_read) 
            cond = (xv){xn_push(p, (qasm_cnode){.kind = CX_CONST, .value = 1}), 0}; /* a node: run-time */
        if (cond.node >= 0 && first) {
            runtime_while(p, out, at, cond, mark, cond_at);
            return;
        }
        if (cond.node >= 0) {
            /* The condition came to depend on measured bits (a variable it reads took a measured
             * value, or is assigned after a break on them): the iterations left run shot by shot, as a
             * while on measured bits, if no break was taken in those unrolled so far. */
            qasm_oplist *into = out, *guard = NULL;
            if (flag >= 0) {
                guard = into = live_open(p, at);
                runtime_enter(p, out, at);
            }
            runtime_while(p, into, at, cond, mark, cond_at);
            if (guard) {
                p->runtime_depth--;
                qasm_op *op = op_push(p, out);
                op->kind = OP_IF;
                op->cond = x_take(p, x_binop(p, at, CX_EQ, x_bits(p, flag, 2), x_const(0)));
                p->n_xn = mark;
                take_list(guard, &op->body, &op->n_body);
                live_close(p);
            }
            break;
        }
        p->n_xn = mark;
        if (cond.v == 0) {
            skip_stmt(p, at);
            break;
        }
        count_iteration(p, at);
        flag = unrolled_iteration(p, out, at, flag);
        if (loop_jumped(p)) break;
    }
    if (flag >= 0) hidden_release(p, flag, 2);
}

/* for [type] name in [a:b] | [a:step:b] | {v, ...} body: the body is parsed once per value, with
 * name bound to it (a constant while it runs), so that `h q[i];` indexes as the loop goes. The
 * tokens of one top-level statement stay until it ends, so going back to the body is safe. */
static void parse_for(parser *p, qasm_oplist *out, const token *at) {
    char type = 'i';
    if (is_scalar_type(peek(p))) {
        type = type_char(next(p));
        skip_type_size(p);
    }
    token *name = expect_id(p, "the loop variable");
    if (!tok_is(peek(p), "in")) fail_at(p, peek(p), QASM_SYNTAX, "expected 'in' after the loop variable");
    next(p);
    double values[256];
    int n_values = 0, is_range = 0;
    long a = 0, step = 1, b = -1;
    int arr = peek(p)->type == T_ID ? find_array(p, peek(p)) : -1;
    if (arr >= 0) { /* for T x in a: its values, in order */
        token *an = next(p);
        if (p->arrays[arr].n_dims != 1)
            fail_at(p, an, QASM_SYNTAX, "a loop over '%s' needs a one-dimensional array (loop over a[i] instead)",
                    p->arrays[arr].name);
        if (p->arrays[arr].size > 256) fail_at(p, an, QASM_TOO_LARGE, "a loop over more than 256 array values");
        for (int i = 0; i < p->arrays[arr].size; i++) values[n_values++] = p->array_values[p->arrays[arr].base + i];
    } else if (accept(p, "{")) {
        do {
            if (n_values == 256) fail_at(p, peek(p), QASM_TOO_LARGE, "more than 256 values in a loop's set");
            values[n_values++] = finite_expr(p, NULL, "a loop value");
        } while (accept(p, ","));
        expect(p, "}", "after the loop's values");
    } else {
        expect(p, "[", "after 'in' (a range [a:b], or a set {v, ...})");
        a = int_value(p, "the range's start");
        expect(p, ":", "in the loop's range");
        b = int_value(p, "the range's end (or step)");
        if (accept(p, ":")) {
            step = b;
            b = int_value(p, "the range's end");
        }
        expect(p, "]", "after the loop's range");
        if (step == 0) fail_at(p, at, QASM_SYNTAX, "a range's step cannot be 0");
        is_range = 1;
    }
    int slot = var_add(p, name, 0, type, 0);
    p->vars[slot].is_loop = 1;
    int body = p->pos, flag = -1;
    enter(p, at);
    long done = 0;
    for (long k = 0;; k++) {
        double v;
        if (is_range) {
            long x = a + k * step;
            if (step > 0 ? x > b : x < b) break;
            v = (double)x;
        } else {
            if (k == n_values) break;
            v = values[k];
        }
        count_iteration(p, at);
        p->vars[slot].value = v;
        p->pos = body;
        flag = unrolled_iteration(p, out, at, flag);
        done++;
        if (loop_jumped(p)) break;
    }
    if (!done) { /* no iteration: step over the body unparsed */
        p->pos = body;
        skip_stmt(p, at);
    }
    leave(p);
    vars_pop(p, slot); /* the variable's scope is the loop */
    if (flag >= 0) hidden_release(p, flag, 2);
}

/* break; continue; In a loop that unrolls at parse time the rest of the iteration is skipped now; in
 * a while on measured bits it is an op. */
static void parse_jump(parser *p, qasm_oplist *out, const token *t) {
    int is_break = tok_is(t, "break");
    next(p);
    expect(p, ";", is_break ? "after break" : "after continue");
    if (p->n_loops <= p->loop_base) fail_at(p, t, QASM_SYNTAX, "'%.*s' outside a loop", t->len, t->s);
    if (p->loops[p->n_loops - 1].runtime) {
        op_push(p, out)->kind = is_break ? OP_BREAK : OP_CONTINUE;
        return;
    }
    struct loop_state *l = &p->loops[p->n_loops - 1];
    if (p->runtime_depth > l->runtime_depth) {
        /* on measured bits, in a loop that unrolls: set the loop's flag; what follows is guarded */
        if (l->flag < 0) {
            l->flag = hidden_take(p, 2, t, "a break or continue on measured bits");
            setbits_const(p->runtime_out[l->runtime_depth], l->flag, 2, 0, p);
        }
        setbits_const(out, l->flag + (is_break ? 0 : 1), 1, 1, p);
        return;
    }
    p->jump = is_break ? J_BREAK : J_CONTINUE;
}

/* switch (target) { case v, ... { } ... default { } }. A target known before the run chooses its
 * case now; one on measured bits becomes a chain of OP_IF/else, each condition read before any case
 * body runs (as a switch does). */
static void parse_switch(parser *p, qasm_oplist *out, const token *at) {
    expect(p, "(", "after switch");
    int mark = p->n_xn;
    xv target = x_or(p, NULL);
    expect(p, ")", "after the switch's target");
    token *open = peek(p);
    expect(p, "{", "to start the switch's cases");
    enter(p, open);
    xv conds[64];
    qasm_oplist *lists[65];
    int n_cases = 0, has_default = 0, taken = 0;
    if (target.node >= 0) runtime_enter(p, out, open);
    while (!accept(p, "}")) {
        token *ct = peek(p);
        if (ct->type == T_EOF) fail_at(p, at, QASM_SYNTAX, "the switch has no closing '}'");
        if (has_default) fail_at(p, ct, QASM_SYNTAX, "default must be the switch's last case");
        int is_default = accept(p, "default");
        if (!is_default && !accept(p, "case")) {
            char got[64];
            describe(ct, got, sizeof got);
            fail_at(p, ct, QASM_SYNTAX, "expected 'case' or 'default' in the switch, got %s", got);
        }
        int match = is_default;
        xv cond = x_const(0);
        if (!is_default) {
            int first = 1;
            do {
                token *vt = peek(p);
                xv v = x_or(p, NULL);
                if (v.node >= 0) fail_at(p, vt, QASM_SYNTAX, "a case's value must be known before the run");
                if (!is_whole(v.v)) fail_at(p, vt, QASM_SYNTAX, "a case's value must be a whole number, got %g", v.v);
                if (target.node < 0) {
                    if (v.v == target.v) match = 1;
                } else {
                    xv eq = x_binop(p, vt, CX_EQ, target, v);
                    cond = first ? eq : x_binop(p, vt, CX_LOR, cond, eq);
                }
                first = 0;
            } while (accept(p, ","));
        }
        if (!tok_is(peek(p), "{")) fail_at(p, peek(p), QASM_SYNTAX, "expected '{' to start the case's body");
        if (target.node < 0) {
            if (match && !taken) {
                parse_block(p, out, ct);
                taken = 1;
            } else {
                skip_stmt(p, ct);
            }
        } else {
            if (n_cases == 64) fail_at(p, ct, QASM_TOO_LARGE, "more than 64 cases in a switch on measured bits");
            lists[n_cases] = live_open(p, ct); /* the default's is the last */
            parse_block(p, lists[n_cases], ct);
            if (is_default)
                has_default = 1;
            else
                conds[n_cases++] = cond;
        }
        if (is_default) has_default = 1;
    }
    leave(p);
    if (target.node < 0) {
        p->n_xn = mark;
        return;
    }
    p->runtime_depth--;
    /* From the last case back: each case's else is the next case (the default at the end). */
    qasm_op *chain = NULL;
    size_t n_chain = 0;
    if (has_default) take_list(lists[n_cases], &chain, &n_chain);
    for (int i = n_cases - 1; i >= 0; i--) {
        qasm_op *op = pit_calloc(1, sizeof(qasm_op));
        op->kind = OP_IF;
        op->cond = x_take(p, conds[i]);
        take_list(lists[i], &op->body, &op->n_body);
        op->else_body = chain;
        op->n_else = n_chain;
        chain = op;
        n_chain = 1;
    }
    for (size_t i = 0; i < n_chain; i++) *op_push(p, out) = chain[i];
    free(chain);
    for (int i = 0; i < n_cases + has_default; i++) live_close(p);
    p->n_xn = mark;
    p->c->has_midcircuit = 1;
}

/* Bits o = v: one OP_SETBITS per contiguous run of o, each taking its part of the value. */
static void emit_setbits(parser *p, qasm_oplist *out, const operand *o, xv v, const token *at) {
    if (v.node < 0 && !is_whole(v.v))
        fail_at(p, at, QASM_SYNTAX, "classical bits hold whole numbers, got %g", v.v);
    for (int i = 0; i < o->count;) {
        int start = op_qubit(o, i), len = 1;
        while (i + len < o->count && op_qubit(o, i + len) == start + len) len++;
        xv part = i ? x_binop(p, at, CX_SHR, v, x_const(i)) : v;
        qasm_op *op = op_push(p, out);
        op->kind = OP_SETBITS;
        op->set_start = start;
        op->set_len = len;
        op->cond = x_take(p, part);
        i += len;
    }
    p->c->has_midcircuit = 1;
}

/* =, +=, ...: 1 and *kind (CX_CONST for a plain '='), or 0. */
static int accept_assign(parser *p, qasm_cnode_kind *kind) {
    if (peek(p)->type != T_PUNCT) return 0;
    for (int i = 0; assign_ops[i]; i++)
        if (accept(p, assign_ops[i])) {
            *kind = assign_kinds[i];
            return 1;
        }
    return 0;
}

static void call_sub(parser *p, qasm_oplist *out, subdef *d, const token *name, int ret_kind, const operand *ret_bits,
                     int ret_var);

/* The right side of bits = ...: a measurement, a subroutine's value, or an expression. */
static void assign_bits_rhs(parser *p, qasm_oplist *out, const operand *c, qasm_cnode_kind kind, const token *at) {
    token *r = peek(p);
    if (kind == CX_CONST && tok_is(r, "measure")) {
        next(p);
        operand q = parse_operand(p, 1, NULL);
        push_measure(p, out, &q, c, r);
        return;
    }
    subdef *d = kind == CX_CONST && r->type == T_ID ? find_sub(p, r) : NULL;
    if (d) {
        next(p);
        call_sub(p, out, d, r, 1, c, -1);
        return;
    }
    int mark = p->n_xn;
    xv v = x_or(p, NULL);
    if (kind != CX_CONST) v = x_binop(p, at, kind, x_bits_of(p, at, c), v);
    emit_setbits(p, out, c, v, r);
    p->n_xn = mark;
}

static uint64_t low_mask(int w) { return w >= 64 ? ~0ull : (1ull << w) - 1; }

/* Classical bits that are in no register (variables' values, loops' flags), hidden from results:
 * reused once released, else taken after the circuit's bits. */
static int hidden_free_run(const parser *p, int w) {
    for (int s0 = 0; s0 + w <= 64; s0++)
        if ((p->var_bits_free & (low_mask(w) << s0)) == low_mask(w) << s0) return s0;
    return -1;
}

static int hidden_fits(const parser *p, int w) { return hidden_free_run(p, w) >= 0 || p->c->n_cbits + w <= QASM_MAX_CBITS; }

static int hidden_take(parser *p, int w, const token *at, const char *what) {
    int start = hidden_free_run(p, w);
    if (start >= 0) {
        p->var_bits_free &= ~(low_mask(w) << start);
    } else {
        if (p->c->n_cbits + w > QASM_MAX_CBITS)
            fail_at(p, at, QASM_TOO_LARGE, "%s needs %d classical bits, and the circuit has %d of the %d supported left",
                    what, w, QASM_MAX_CBITS - p->c->n_cbits, QASM_MAX_CBITS);
        start = p->c->n_cbits;
        p->c->n_cbits += w;
    }
    p->c->hidden_bits |= low_mask(w) << start;
    return start;
}

static void hidden_release(parser *p, int start, int w) { p->var_bits_free |= low_mask(w) << start; }

/* Moves a variable into classical bits of its own (see parser.vars), from here on. keep: its value so
 * far is set in them (under a condition on measured bits, before the condition), else the caller
 * sets them next. */
static void var_to_bits(parser *p, qasm_oplist *out, int slot, const token *at, int keep) {
    if (p->vars[slot].bits_start >= 0) return;
    const char *name = p->vars[slot].name;
    if (p->vars[slot].type == 'f')
        fail_at(p, at, QASM_SYNTAX, "'%s' is a float or an angle, and would hold a value that depends on measured "
                "bits: only int, uint and bool variables can (or keep the value in bits: bit[n])", name);
    if (p->vars[slot].is_loop)
        fail_at(p, at, QASM_SYNTAX, "'%s' is a for loop's variable: it cannot take a value that depends on measured "
                "bits", name);
    int w = p->vars[slot].type == 'b' ? 1 : p->vars[slot].width > 0 ? p->vars[slot].width : 32;
    if (w > 64) w = 64;
    if (!hidden_fits(p, w))
        fail_at(p, at, QASM_TOO_LARGE, "'%s' would hold a value that depends on measured bits, which takes %d "
                "classical bits, and the circuit has %d of the %d supported left: declare it smaller (int[8] %s)",
                name, w, QASM_MAX_CBITS - p->c->n_cbits, QASM_MAX_CBITS, name);
    int start = hidden_take(p, w, at, name);
    p->vars[slot].bits_start = start;
    p->vars[slot].bits_len = w;
    if (keep) {
        int deeper = p->runtime_depth > p->vars[slot].runtime_depth;
        qasm_op *op = op_push(p, deeper ? p->runtime_out[p->vars[slot].runtime_depth] : out);
        op->kind = OP_SETBITS;
        op->set_start = start;
        op->set_len = w;
        op->cond = x_take(p, x_const(p->vars[slot].value));
    }
    p->c->has_midcircuit = 1;
}

/* A classical variable's new value: folded from here on while it is known before the run; else set
 * in the variable's bits, shot by shot (into out). */
static void set_var(parser *p, qasm_oplist *out, int slot, qasm_cnode_kind kind, xv v, const token *at, const token *vt) {
    char type = p->vars[slot].type;
    if (v.node < 0 && p->vars[slot].bits_start < 0 && p->runtime_depth == p->vars[slot].runtime_depth) {
        double nv = kind == CX_CONST ? v.v : x_binop(p, at, kind, x_const(p->vars[slot].value), v).v;
        if (!isfinite(nv)) fail_at(p, vt, QASM_SYNTAX, "'%s' would be %g, not a finite number", p->vars[slot].name, nv);
        p->vars[slot].value = coerce(type, nv);
        return;
    }
    int deeper = p->runtime_depth > p->vars[slot].runtime_depth, in_bits = p->vars[slot].bits_start >= 0;
    xv old = in_bits ? x_const(0) : x_const(p->vars[slot].value);
    var_to_bits(p, out, slot, vt, deeper);
    if (in_bits || deeper) old = x_var_bits(p, slot);
    xv nv = kind == CX_CONST ? v : x_binop(p, at, kind, old, v);
    if (nv.node < 0) {
        if (!isfinite(nv.v)) fail_at(p, vt, QASM_SYNTAX, "'%s' would be %g, not a finite number", p->vars[slot].name, nv.v);
        nv = x_const(coerce(type, nv.v));
    } else
        nv = x_unop(p, type == 'b' ? CX_BOOL : CX_TRUNC, nv, 0);
    qasm_op *op = op_push(p, out);
    op->kind = OP_SETBITS;
    op->set_start = p->vars[slot].bits_start;
    op->set_len = p->vars[slot].bits_len;
    op->cond = x_take(p, nv);
}

static void assign_var(parser *p, qasm_oplist *out, int slot, const token *name) {
    token *at = peek(p);
    qasm_cnode_kind kind;
    if (!accept_assign(p, &kind)) {
        char got[64];
        describe(at, got, sizeof got);
        fail_at(p, at, QASM_SYNTAX, "expected '=' (or +=, -=, ...) after the variable '%.*s', got %s", name->len,
                name->s, got);
    }
    if (p->vars[slot].is_const)
        fail_at(p, name, QASM_SYNTAX, "'%s' is a const or an input: it cannot be assigned", p->vars[slot].name);
    token *vt = peek(p);
    subdef *d = kind == CX_CONST && vt->type == T_ID ? find_sub(p, vt) : NULL;
    if (d) {
        next(p);
        call_sub(p, out, d, vt, 2, NULL, slot);
    } else {
        int mark = p->n_xn;
        set_var(p, out, slot, kind, x_or(p, NULL), at, vt);
        p->n_xn = mark;
    }
    expect(p, ";", "after the assignment");
}

/* { e, ... } for one dimension of an array (nested braces for the next ones), into values[at ..]. */
static void array_init(parser *p, int a, int dim, int at) {
    if (dim >= QASM_MAX_ARRAY_DIMS || dim >= p->arrays[a].n_dims) return; /* recursion is by dimension: never */
    const token *open = peek(p);
    expect(p, "{", "to start the array's values ({1, 2, 3})");
    int stride = 1;
    for (int k = dim + 1; k < p->arrays[a].n_dims; k++) stride *= p->arrays[a].dims[k];
    int n = 0;
    do {
        if (n == p->arrays[a].dims[dim])
            fail_at(p, peek(p), QASM_SYNTAX, "more values than the %d of dimension %d of '%s'", p->arrays[a].dims[dim],
                    dim + 1, p->arrays[a].name);
        if (dim + 1 < p->arrays[a].n_dims)
            array_init(p, a, dim + 1, at + n * stride);
        else
            p->array_values[at + n] = coerce(p->arrays[a].type, finite_expr(p, NULL, "an array value"));
        n++;
    } while (accept(p, ","));
    expect(p, "}", "after the array's values");
    if (n != p->arrays[a].dims[dim])
        fail_at(p, open, QASM_SYNTAX, "%d value(s) for dimension %d of '%s', which has %d", n, dim + 1,
                p->arrays[a].name, p->arrays[a].dims[dim]);
}

/* [const] array[TYPE[size]?, d1, d2 ...] name (= {...} | = other_array)? ;  TYPE float, int, uint,
 * angle or bool. Values known before the run, as the scalars: elements are folded where they are read. */
static void parse_array_decl(parser *p, int is_const) {
    const token *kw = next(p); /* array (after const, when is_const) */
    expect(p, "[", "after 'array' (array[int[32], 4] a;)");
    token *type = peek(p);
    if (!is_scalar_type(type))
        fail_at(p, type, QASM_SYNTAX, "arrays of float, int, uint, angle or bool are supported, not this type");
    next(p);
    skip_type_size(p);
    if (p->n_arrays == 16) fail_at(p, kw, QASM_TOO_LARGE, "more than 16 arrays");
    int a = p->n_arrays;
    p->arrays[a].type = type_char(type);
    p->arrays[a].n_dims = 0;
    long size = 1;
    while (accept(p, ",")) {
        if (p->arrays[a].n_dims == QASM_MAX_ARRAY_DIMS)
            fail_at(p, peek(p), QASM_SYNTAX, "more than %d dimensions", QASM_MAX_ARRAY_DIMS);
        token *at = peek(p);
        long d = int_value(p, "an array dimension");
        if (d < 1 || d > QASM_MAX_ARRAY_VALUES) fail_at(p, at, QASM_SYNTAX, "an array dimension must be 1 or more");
        size *= d;
        if (size > QASM_MAX_ARRAY_VALUES)
            fail_at(p, at, QASM_TOO_LARGE, "an array of more than %d values", QASM_MAX_ARRAY_VALUES);
        p->arrays[a].dims[p->arrays[a].n_dims++] = (int)d;
    }
    if (!p->arrays[a].n_dims) fail_at(p, peek(p), QASM_SYNTAX, "expected ',' and the array's size (array[int, 4])");
    expect(p, "]", "after the array's type and size");
    token *name = expect_id(p, "the array's name");
    if (find_var(p, name) >= 0 || find_array(p, name) >= 0 || find_reg(p->c->qregs, p->c->n_qregs, name) ||
        find_reg(p->c->cregs, p->c->n_cregs, name))
        fail_at(p, name, QASM_SYNTAX, "'%.*s' is already declared", name->len, name->s);
    if (p->n_array_values + size > QASM_MAX_ARRAY_VALUES)
        fail_at(p, name, QASM_TOO_LARGE, "the arrays hold more than %d values in all", QASM_MAX_ARRAY_VALUES);
    if (p->n_array_values + size > p->cap_array_values) {
        p->cap_array_values = (int)(p->n_array_values + size) * 2;
        p->array_values = pit_realloc(p->array_values, (size_t)p->cap_array_values * sizeof(double));
    }
    snprintf(p->arrays[a].name, sizeof p->arrays[a].name, "%.*s", name->len, name->s);
    p->arrays[a].base = p->n_array_values;
    p->arrays[a].size = (int)size;
    p->arrays[a].runtime_depth = p->runtime_depth;
    for (long i = 0; i < size; i++) p->array_values[p->arrays[a].base + i] = 0;
    if (accept(p, "=")) {
        token *src = peek(p);
        int from = src->type == T_ID ? find_array(p, src) : -1;
        if (from >= 0) { /* a copy of another array of the same shape */
            next(p);
            int same = p->arrays[from].n_dims == p->arrays[a].n_dims;
            for (int k = 0; same && k < p->arrays[a].n_dims; k++) same = p->arrays[from].dims[k] == p->arrays[a].dims[k];
            if (!same) fail_at(p, src, QASM_SYNTAX, "'%s' has another shape than '%s'", p->arrays[from].name, p->arrays[a].name);
            for (long i = 0; i < size; i++)
                p->array_values[p->arrays[a].base + i] =
                    coerce(p->arrays[a].type, p->array_values[p->arrays[from].base + i]);
        } else {
            array_init(p, a, 0, p->arrays[a].base);
        }
    } else if (is_const) {
        fail_at(p, name, QASM_SYNTAX, "a const array needs its values (= {...})");
    }
    p->n_array_values += (int)size;
    p->n_arrays++;
    /* const arrays are refused assignment by name */
    if (is_const) p->arrays[a].runtime_depth = -1;
    expect(p, ";", "after the array's declaration");
}

/* a[i] = e;  a[i][j] += e;  (the element's new value known before the run, as a scalar's) */
static void assign_array(parser *p, int a, const token *name) {
    int at_value = array_element(p, a, name);
    if (p->arrays[a].runtime_depth < 0)
        fail_at(p, name, QASM_SYNTAX, "'%s' is a const array: it cannot be assigned", p->arrays[a].name);
    if (p->runtime_depth != p->arrays[a].runtime_depth)
        fail_at(p, name, QASM_SYNTAX, "'%s' is assigned under a condition on measured bits: arrays hold values known "
                "before the run here", p->arrays[a].name);
    token *at = peek(p);
    qasm_cnode_kind kind;
    if (!accept_assign(p, &kind)) fail_at(p, at, QASM_SYNTAX, "expected '=' (or +=, -=, ...) after the array element");
    token *vt = peek(p);
    int mark = p->n_xn;
    xv v = x_or(p, NULL);
    if (v.node >= 0)
        fail_at(p, vt, QASM_SYNTAX, "an element of '%s' would hold a value that depends on measured bits: arrays hold "
                "values known before the run here (bits can hold measured values: declare bit[n])", p->arrays[a].name);
    double nv = kind == CX_CONST ? v.v : x_binop(p, at, kind, x_const(p->array_values[at_value]), v).v;
    p->n_xn = mark;
    if (!isfinite(nv)) fail_at(p, vt, QASM_SYNTAX, "the element would be %g, not a finite number", nv);
    p->array_values[at_value] = coerce(p->arrays[a].type, nv);
    expect(p, ";", "after the assignment");
}

/* [const | input | output] TYPE[size]? name (= value)? ;  with TYPE float, int, uint, angle or bool.
 * Inputs take their value from the request (qasm_limits.input_*); the others from an expression
 * known before the run, or a subroutine's value (0 without one). Folded wherever the name is used. */
static void parse_scalar_decl(parser *p, qasm_oplist *out, const token *first) {
    int is_input = tok_is(first, "input"), is_output = tok_is(first, "output"), is_const = tok_is(first, "const");
    if (is_input || is_output || is_const) next(p);
    if (is_const && tok_is(peek(p), "array")) {
        parse_array_decl(p, 1);
        return;
    }
    token *type = peek(p);
    if (!is_scalar_type(type)) {
        if (is_input || is_output)
            fail_at(p, type, QASM_SYNTAX, "%s of this type is not supported (float, int, uint, angle or bool are)",
                    is_input ? "input" : "output");
        fail_at(p, type, QASM_SYNTAX, "expected a classical type (float, int, uint, angle or bool) after const");
    }
    next(p);
    long width = skip_type_size(p);
    token *name = expect_id(p, "the variable's name");
    char tc = type_char(type);
    if (is_input) {
        int found = 0;
        double value = 0;
        for (int i = 0; i < p->lim->n_inputs; i++)
            if (tok_is(name, p->lim->input_names[i])) {
                value = p->lim->input_values[i];
                found = 1;
            }
        if (!found)
            fail_at(p, name, QASM_SYNTAX, "the circuit declares input '%.*s': give its value in run_circuit's "
                    "\"inputs\" ({\"%.*s\": ...})", name->len, name->s, name->len, name->s);
        var_add(p, name, value, tc, 1);
        if (peek(p)->type == T_PUNCT && tok_is(peek(p), "="))
            fail_at(p, peek(p), QASM_SYNTAX, "an input takes its value from the request, not from the program");
    } else {
        int slot = var_add(p, name, 0, tc, 0);
        p->vars[slot].width = width > 64 ? 64 : (int)width;
        token *at = peek(p);
        if (accept(p, "=")) {
            token *vt = peek(p);
            subdef *d = vt->type == T_ID ? find_sub(p, vt) : NULL;
            if (d) {
                next(p);
                call_sub(p, out, d, vt, 2, NULL, slot);
            } else {
                int mark = p->n_xn;
                set_var(p, out, slot, CX_CONST, x_or(p, NULL), at, vt);
                p->n_xn = mark;
            }
        } else if (is_const) {
            fail_at(p, name, QASM_SYNTAX, "const '%.*s' needs a value (const float x = ...;)", name->len, name->s);
        }
        if (is_const && p->vars[slot].bits_start >= 0)
            fail_at(p, name, QASM_SYNTAX, "const '%.*s' needs a value known before the run, not one that depends on "
                    "measured bits", name->len, name->s);
        p->vars[slot].is_const = (char)is_const;
    }
    if (is_output) warn_once(p, "output variables are not reported (the result holds the measurement counts)");
    expect(p, ";", "after the declaration");
}

/* def name(params) [-> type] { body }: kept as tokens, inlined at each call (as gates are). */
static void parse_def(parser *p, const token *at) {
    token *name = expect_id(p, "the subroutine's name");
    if (find_sub(p, name) || find_def(p, name))
        fail_at(p, name, QASM_SYNTAX, "'%.*s' is already defined", name->len, name->s);
    if (p->n_subs == p->cap_subs) p->subs = pit_realloc(p->subs, (size_t)(p->cap_subs = p->cap_subs * 2 + 4) * sizeof(subdef));
    subdef *d = &p->subs[p->n_subs];
    memset(d, 0, sizeof *d);
    p->sub_pending = 1;
    d->name = tok_dup(name);
    expect(p, "(", "after the subroutine's name");
    if (!accept(p, ")")) {
        do {
            if (d->n_params == 16) fail_at(p, peek(p), QASM_TOO_LARGE, "more than 16 parameters");
            accept(p, "const");
            accept(p, "readonly");
            token *ty = peek(p);
            char kind, type = 0;
            long size = 0;
            if (tok_is(ty, "qubit") || tok_is(ty, "bit")) {
                next(p);
                kind = tok_is(ty, "qubit") ? 'q' : 'b';
                if (accept(p, "[")) {
                    size = expect_int(p, "the parameter's size");
                    if (size < 1 || size > 64) fail_at(p, ty, QASM_SYNTAX, "a parameter of %ld elements", size);
                    expect(p, "]", "after the parameter's size");
                }
            } else if (is_scalar_type(ty)) {
                next(p);
                skip_type_size(p);
                kind = 'c';
                type = type_char(ty);
            } else {
                char got[64];
                describe(ty, got, sizeof got);
                fail_at(p, ty, QASM_SYNTAX, "expected a parameter type (qubit, qubit[n], bit, bit[n], float, int, uint, "
                        "angle, bool), got %s", got);
            }
            token *pn = expect_id(p, "the parameter's name");
            d->params[d->n_params].name = tok_dup(pn);
            d->params[d->n_params].kind = kind;
            d->params[d->n_params].size = (int)size;
            d->params[d->n_params].type = type;
            d->n_params++;
        } while (accept(p, ","));
        expect(p, ")", "after the subroutine's parameters");
    }
    if (accept(p, "->")) {
        token *rt = peek(p);
        if (tok_is(rt, "bit")) {
            d->ret = 'b';
        } else if (is_scalar_type(rt)) {
            d->ret = type_char(rt);
        } else {
            fail_at(p, rt, QASM_SYNTAX, "expected the return type (bit, bit[n], float, int, uint, angle, bool)");
        }
        next(p);
        skip_type_size(p);
    }
    token *open = peek(p);
    expect(p, "{", "to start the subroutine's body");
    static const char *const banned[] = {"qubit", "qreg", "gate", "def", NULL};
    char what[96];
    snprintf(what, sizeof what, "'%s'", d->name);
    d->body = copy_body(p, open, what, banned, "a subroutine", &d->body_n);
    p->n_subs++; /* visible after its own body: no recursion */
    p->sub_pending = 0;
    (void)at;
}

/* name(args) inlined: classical arguments bound as variables (by value), qubit and bit arguments as
 * aliases of the caller's; the value of `return` goes where ret_kind says (1: bits, 2: a variable). */
static void call_sub(parser *p, qasm_oplist *out, subdef *d, const token *name, int ret_kind, const operand *ret_bits,
                     int ret_var) {
    expect(p, "(", "after the subroutine's name");
    double vals[16];
    operand args[16];
    for (int i = 0; i < d->n_params; i++) {
        if (i) expect(p, ",", "between the arguments");
        token *at = peek(p);
        if (d->params[i].kind == 'c') {
            int mark = p->n_xn;
            xv v = x_or(p, NULL);
            p->n_xn = mark;
            if (v.node >= 0)
                fail_at(p, at, QASM_SYNTAX, "argument '%s' of '%s' depends on measured bits: pass them as a bit argument",
                        d->params[i].name, d->name);
            vals[i] = v.v;
        } else {
            args[i] = parse_operand(p, d->params[i].kind == 'q', NULL);
            int want = d->params[i].size ? d->params[i].size : 1;
            if (args[i].count != want)
                fail_at(p, at, QASM_SYNTAX, "argument '%s' of '%s' takes %d %s, got %d", d->params[i].name, d->name, want,
                        d->params[i].kind == 'q' ? "qubit(s)" : "bit(s)", args[i].count);
        }
    }
    expect(p, ")", "after the arguments");
    if (ret_kind && !d->ret)
        fail_at(p, name, QASM_SYNTAX, "subroutine '%s' returns nothing: its value cannot be assigned", d->name);
    if (ret_kind == 1 && d->ret != 'b')
        fail_at(p, name, QASM_SYNTAX, "subroutine '%s' returns a classical value, not bits", d->name);
    /* The body's scope: its parameters, then its own declarations. */
    int saved_pos = p->pos, saved_len = p->body_len, saved_vars = p->n_vars, saved_base = p->var_base;
    int saved_aliases = p->n_aliases, saved_loop_base = p->loop_base;
    token *saved_body = p->body;
    struct ret_target saved_ret = p->ret;
    enter(p, name);
    p->var_base = p->n_vars;
    for (int i = 0; i < d->n_params; i++) {
        token pt = *name;
        pt.s = d->params[i].name;
        pt.len = (int)strlen(d->params[i].name);
        if (d->params[i].kind == 'c')
            var_add(p, &pt, vals[i], d->params[i].type, 0);
        else
            alias_add(p, &pt, d->params[i].kind == 'q', &args[i], d->params[i].size == 0);
    }
    p->ret.kind = ret_kind;
    p->ret.n = 0;
    if (ret_bits) {
        p->ret.n = ret_bits->count;
        for (int i = 0; i < ret_bits->count; i++) p->ret.bits[i] = (int8_t)op_qubit(ret_bits, i);
    }
    p->ret.var = ret_var;
    p->ret.runtime_depth = p->runtime_depth;
    p->ret.active = 1;
    p->ret.flag = -1;
    p->loop_base = p->n_loops;
    p->body = d->body;
    p->body_len = d->body_n + 2;
    p->pos = 0;
    while (p->pos < d->body_n && !p->jump) parse_statement(p, out);
    if (p->jump == J_RETURN) p->jump = J_NONE;
    if (p->ret.flag >= 0) hidden_release(p, p->ret.flag, 1);
    p->body = saved_body;
    p->body_len = saved_len;
    p->pos = saved_pos;
    vars_pop(p, saved_vars);
    p->var_base = saved_base;
    p->n_aliases = saved_aliases;
    p->loop_base = saved_loop_base;
    p->ret = saved_ret;
    leave(p);
}

/* Known before the run, a return ends the body's parse here; on measured bits, it sets the return's
 * flag, and the statements after it are guarded by it (parse_statement). */
static void return_taken(parser *p, qasm_oplist *out, int on_measured) {
    if (on_measured)
        setbits_const(out, p->ret.flag, 1, 1, p);
    else
        p->jump = J_RETURN;
}

static void parse_return(parser *p, qasm_oplist *out, const token *t) {
    next(p);
    if (!p->ret.active) fail_at(p, t, QASM_SYNTAX, "'return' outside a subroutine");
    int on_measured = p->runtime_depth > p->ret.runtime_depth;
    if (on_measured && p->n_loops > p->loop_base && p->loops[p->n_loops - 1].runtime)
        fail_at(p, t, QASM_SYNTAX, "'return' inside a while on measured bits is not supported (break out of it, then "
                "return)");
    if (on_measured && p->ret.flag < 0) {
        p->ret.flag = hidden_take(p, 1, t, "a return on measured bits");
        setbits_const(p->runtime_out[p->ret.runtime_depth], p->ret.flag, 1, 0, p);
    }
    operand target;
    memset(&target, 0, sizeof target);
    target.has_list = 1;
    target.count = p->ret.n;
    for (int i = 0; i < p->ret.n; i++) target.list[i] = p->ret.bits[i];
    token *r = peek(p);
    if (accept(p, ";")) {
        return_taken(p, out, on_measured);
        return;
    }
    if (tok_is(r, "measure")) {
        next(p);
        operand q = parse_operand(p, 1, NULL);
        if (p->ret.kind != 1)
            fail_at(p, r, QASM_SYNTAX, "a subroutine that returns a measurement must be assigned to bits (c = f(...);)");
        push_measure(p, out, &q, &target, r);
    } else {
        int mark = p->n_xn;
        xv v = x_or(p, NULL);
        if (p->ret.kind == 1) emit_setbits(p, out, &target, v, r);
        if (p->ret.kind == 2) set_var(p, out, p->ret.var, CX_CONST, v, r, r);
        p->n_xn = mark;
    }
    expect(p, ";", "after return");
    return_taken(p, out, on_measured);
}

/* let name = operand (++ operand)*; an alias of qubits or of classical bits. */
static void parse_let(parser *p) {
    token *name = expect_id(p, "the alias's name");
    if (find_reg(p->c->qregs, p->c->n_qregs, name) || find_reg(p->c->cregs, p->c->n_cregs, name) || find_var(p, name) >= 0)
        fail_at(p, name, QASM_SYNTAX, "'%.*s' is already declared", name->len, name->s);
    expect(p, "=", "after the alias's name");
    token *first = peek(p);
    struct alias *fa = first->type == T_ID ? find_alias(p, first) : NULL;
    int quantum = (first->type == T_PUNCT && tok_is(first, "$")) || find_reg(p->c->qregs, p->c->n_qregs, first) ||
                  (fa && fa->quantum);
    operand all;
    memset(&all, 0, sizeof all);
    all.has_list = 1;
    all.whole = 1;
    do {
        operand o = parse_operand(p, quantum, NULL);
        int n = o.whole ? o.count : 1;
        if (all.count + n > QASM_MAX_QUBITS) fail_at(p, o.at, QASM_SYNTAX, "an alias of more than %d elements", QASM_MAX_QUBITS);
        for (int i = 0; i < n; i++) all.list[all.count++] = o.whole ? op_qubit(&o, i) : o.start;
    } while (accept(p, "++"));
    expect(p, ";", "after the alias");
    alias_add(p, name, quantum, &all, 0);
}

/* include "name"; a file of the request's "includes", read as if its text stood here. */
static void parse_include(parser *p, qasm_oplist *out, const token *f) {
    const char *text = NULL, *file = NULL;
    for (int i = 0; i < p->lim->n_includes; i++)
        if (f->len - 2 == (int)strlen(p->lim->include_names[i]) &&
            strncmp(f->s + 1, p->lim->include_names[i], (size_t)f->len - 2) == 0) {
            text = p->lim->include_texts[i];
            file = p->lim->include_names[i];
        }
    if (!text)
        fail_at(p, f, QASM_SYNTAX, "cannot include %.*s: give its text in the request's \"includes\" "
                "({\"%.*s\": \"...\"}); only \"stdgates.inc\" and \"qelib1.inc\" are built in", f->len, f->s, f->len - 2,
                f->s + 1);
    expect(p, ";", "after the include");
    if (p->n_streams == 8) fail_at(p, f, QASM_TOO_LARGE, "includes nested more than 8 deep");
    struct stream_state *s = &p->streams[p->n_streams++];
    *s = (struct stream_state){p->blocks, p->cap_blocks, p->first_block, p->n_toks, p->pos, p->src, p->lex_at,
                               p->line_start, p->line, p->lexed_eof, p->body, p->body_len, p->file};
    p->blocks = NULL;
    p->cap_blocks = p->first_block = p->n_toks = p->pos = 0;
    p->src = p->lex_at = p->line_start = text;
    p->line = 1;
    p->lexed_eof = 0;
    p->body = NULL;
    p->body_len = 0;
    p->file = file;
    if (accept(p, "OPENQASM")) { /* an included file may carry its own version line */
        next(p);
        expect(p, ";", "after the version");
    }
    while (peek(p)->type != T_EOF) {
        tokens_forget_read(p);
        parse_body(p, out, NULL, NULL, 0);
    }
    tokens_free(p);
    p->n_streams--;
    p->blocks = s->blocks;
    p->cap_blocks = s->cap_blocks;
    p->first_block = s->first_block;
    p->n_toks = s->n_toks;
    p->pos = s->pos;
    p->src = s->src;
    p->lex_at = s->lex_at;
    p->line_start = s->line_start;
    p->line = s->line;
    p->lexed_eof = s->lexed_eof;
    p->body = s->body;
    p->body_len = s->body_len;
    p->file = s->file;
}

static void parse_body(parser *p, qasm_oplist *out, const param_env *penv, const qubit_env *qenv, int in_gate) {
    token *t = peek(p);
    if (t->type == T_PUNCT && tok_is(t, "@") && !in_gate) {
        /* An annotation (@name ...) runs to the end of its line and is for other tools. */
        int line = t->line;
        while (peek(p)->type != T_EOF && peek(p)->line == line) next(p);
        warn_once(p, "annotations (@...) are ignored");
        return;
    }
    if (t->type == T_PUNCT && tok_is(t, "{") && !in_gate) { /* a bare block: a scope */
        parse_block(p, out, t);
        return;
    }
    if (t->type != T_ID) {
        if (accept(p, ";")) return;
        char got[64];
        describe(t, got, sizeof got);
        fail_at(p, t, QASM_SYNTAX, "expected a statement, got %s", got);
    }
    if (tok_is(t, "barrier")) {
        next(p);
        if (!accept(p, ";")) {
            do parse_operand(p, 1, qenv);
            while (accept(p, ","));
            expect(p, ";", "after barrier");
        }
        return;
    }
    if (in_gate) {
        if (tok_is(t, "measure") || tok_is(t, "reset") || tok_is(t, "if") || tok_is(t, "qubit") || tok_is(t, "gate"))
            fail_at(p, t, QASM_SYNTAX, "'%.*s' is not allowed inside a gate definition", t->len, t->s);
        parse_modified_call(p, out, penv, qenv);
        return;
    }
    if (tok_is(t, "OPENQASM"))
        fail_at(p, t, QASM_SYNTAX, "OPENQASM must be the first statement");
    if (tok_is(t, "include")) {
        next(p);
        token *f = peek(p);
        if (f->type != T_STR) fail_at(p, f, QASM_SYNTAX, "expected a file name in quotes after include");
        next(p);
        if (tok_is(f, "\"stdgates.inc\"") || tok_is(f, "\"qelib1.inc\"")) {
            expect(p, ";", "after the include");
            return;
        }
        parse_include(p, out, f);
        return;
    }
    if (tok_is(t, "input") || tok_is(t, "output") || tok_is(t, "const") || is_scalar_type(t)) {
        /* int(x) ... at the start of a statement would be a cast: no statement starts so */
        parse_scalar_decl(p, out, t);
        return;
    }
    if (tok_is(t, "qubit") || tok_is(t, "bit")) {
        int quantum = tok_is(t, "qubit");
        next(p);
        long size = 1;
        int scalar = 1;
        if (accept(p, "[")) {
            size = expect_int(p, "the register size");
            expect(p, "]", "after the register size");
            scalar = 0;
        }
        token *name = expect_id(p, "the register's name");
        declare(p, quantum, name, size, scalar);
        token *eq = peek(p);
        if (!quantum && accept(p, "=")) { /* bit[2] c = measure q;  bit[4] b = "0101";  bit c = f(q); */
            const qasm_register *r = &p->c->cregs[p->c->n_cregs - 1];
            operand o;
            memset(&o, 0, sizeof o);
            o.start = r->start;
            o.count = r->size;
            o.whole = 1;
            o.at = name;
            assign_bits_rhs(p, out, &o, CX_CONST, eq);
        }
        expect(p, ";", "after the declaration");
        return;
    }
    if (tok_is(t, "qreg") || tok_is(t, "creg")) {
        int quantum = tok_is(t, "qreg");
        next(p);
        token *name = expect_id(p, "the register's name");
        expect(p, "[", "after the register's name (OpenQASM 2 declares qreg name[size];)");
        long size = expect_int(p, "the register size");
        expect(p, "]", "after the register size");
        declare(p, quantum, name, size, 0);
        expect(p, ";", "after the declaration");
        return;
    }
    if (tok_is(t, "gate")) {
        next(p);
        parse_gate_def(p);
        return;
    }
    if (tok_is(t, "def")) {
        next(p);
        parse_def(p, t);
        return;
    }
    if (tok_is(t, "delay")) {
        next(p);
        skip_statement(p, t);
        warn_once(p, "delay is ignored: a state-vector simulation has no time");
        return;
    }
    if (tok_is(t, "duration") || tok_is(t, "stretch")) {
        next(p);
        skip_statement(p, t);
        warn_once(p, "duration and stretch values are ignored: a state-vector simulation has no time");
        return;
    }
    if (tok_is(t, "defcalgrammar") || tok_is(t, "cal") || tok_is(t, "defcal") || tok_is(t, "extern")) {
        next(p);
        skip_statement(p, t);
        warn_once(p, "pulse-level and extern declarations (defcalgrammar, cal, defcal, extern) are ignored");
        return;
    }
    if (tok_is(t, "box")) {
        /* box [duration] { body }: the body runs; only its timing is ignored. */
        next(p);
        if (accept(p, "[")) {
            while (!accept(p, "]")) {
                if (peek(p)->type == T_EOF) fail_at(p, t, QASM_SYNTAX, "box's duration has no closing ']'");
                next(p);
            }
        }
        if (!tok_is(peek(p), "{")) fail_at(p, peek(p), QASM_SYNTAX, "expected '{' to start the box's body");
        parse_block(p, out, t);
        warn_once(p, "box timing is ignored (its body runs)");
        return;
    }
    if (tok_is(t, "for")) {
        next(p);
        parse_for(p, out, t);
        return;
    }
    if (tok_is(t, "while")) {
        next(p);
        parse_while(p, out, t);
        return;
    }
    if (tok_is(t, "switch")) {
        next(p);
        parse_switch(p, out, t);
        return;
    }
    if (tok_is(t, "break") || tok_is(t, "continue")) {
        parse_jump(p, out, t);
        return;
    }
    if (tok_is(t, "return")) {
        parse_return(p, out, t);
        return;
    }
    if (tok_is(t, "let")) {
        next(p);
        parse_let(p);
        return;
    }
    if (tok_is(t, "else")) fail_at(p, t, QASM_SYNTAX, "'else' without an if before it");
    if (tok_is(t, "end")) {
        next(p);
        expect(p, ";", "after end");
        warn_once(p, "end; stops nothing here: the whole program runs");
        return;
    }
    if (tok_is(t, "array")) {
        parse_array_decl(p, 0);
        return;
    }
    if (tok_is(t, "opaque") || tok_is(t, "complex"))
        fail_at(p, t, QASM_SYNTAX, "'%.*s' is not supported by this simulator (see docs/engine.md for what is)", t->len,
                t->s);
    if (tok_is(t, "measure")) {
        next(p);
        operand q = parse_operand(p, 1, NULL);
        if (accept(p, "->")) {
            operand c = parse_operand(p, 0, NULL);
            push_measure(p, out, &q, &c, t);
        } else {
            fail_at(p, peek(p), QASM_SYNTAX, "expected '->' and classical bits after measure (or write c = measure q;)");
        }
        expect(p, ";", "after the measurement");
        return;
    }
    if (tok_is(t, "reset")) {
        next(p);
        operand q = parse_operand(p, 1, NULL);
        expect(p, ";", "after reset");
        for (int i = 0; i < q.count; i++) {
            qasm_op *op = op_push(p, out);
            op->kind = OP_RESET;
            op->targets[0] = op_qubit(&q, i);
        }
        p->c->has_midcircuit = 1;
        return;
    }
    if (tok_is(t, "if")) {
        next(p);
        parse_if(p, out, t);
        return;
    }
    int slot = find_var(p, t);
    if (slot >= 0) {
        next(p);
        assign_var(p, out, slot, t);
        return;
    }
    int arr = find_array(p, t);
    if (arr >= 0) {
        next(p);
        assign_array(p, arr, t);
        return;
    }
    /* c = measure q;  c[i] = measure q[j];  c = expression;  c[0] ^= c[1];  c = f(q); */
    struct alias *al = find_alias(p, t);
    if ((al && !al->quantum) || (!al && find_reg(p->c->cregs, p->c->n_cregs, t))) {
        operand c = parse_operand(p, 0, NULL);
        token *at = peek(p);
        qasm_cnode_kind kind;
        if (!accept_assign(p, &kind))
            fail_at(p, at, QASM_SYNTAX, "expected '=' after the classical bits (c = measure q; or c = expression;)");
        assign_bits_rhs(p, out, &c, kind, at);
        expect(p, ";", "after the assignment");
        return;
    }
    subdef *d = find_sub(p, t);
    if (d) {
        next(p);
        call_sub(p, out, d, t, 0, NULL, -1);
        expect(p, ";", "after the subroutine's call");
        return;
    }
    parse_modified_call(p, out, penv, qenv);
}

/* A measurement is mid-circuit when a later gate, reset or if touches its qubit. */
static void find_midcircuit(qasm_circuit *c) {
    if (c->has_midcircuit) return;
    char measured[QASM_MAX_QUBITS] = {0};
    for (size_t i = 0; i < c->n_ops; i++) {
        qasm_op *op = &c->ops[i];
        if (op->kind == OP_MEASURE) {
            measured[op->targets[0]] = 1;
        } else if (op->kind == OP_GATE) {
            for (int k = 0; k < op->n_targets; k++)
                if (measured[op->targets[k]]) c->has_midcircuit = 1;
            for (int k = 0; k < op->n_controls; k++)
                if (measured[op->controls[k]]) c->has_midcircuit = 1;
        }
    }
}

int qasm_parse(const char *text, const qasm_limits *limits, qasm_circuit *out, qasm_error *err) {
    parser p;
    memset(&p, 0, sizeof p);
    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    p.c = out;
    p.lim = limits;
    p.err = err;
    out->version = 3;
    qasm_oplist ops = {0};
    p.src = p.lex_at = p.line_start = text;
    p.line = 1;
    volatile int rc = 0; /* read after a longjmp */
    if (setjmp(p.fail) == 0) {
        if (accept(&p, "OPENQASM")) {
            token *v = peek(&p);
            if (v->type != T_NUM) fail_at(&p, v, QASM_SYNTAX, "expected a version (2.0 or 3) after OPENQASM");
            next(&p);
            /* 3.1 and later 3.x only add to 3.0; what this parser lacks of them is refused where used. */
            if (v->num != 2.0 && !(v->num >= 3.0 && v->num < 4.0))
                fail_at(&p, v, QASM_SYNTAX, "OpenQASM version %.*s is not supported (2.0, or 3.x)", v->len, v->s);
            out->version = (int)v->num;
            expect(&p, ";", "after the version");
        }
        while (peek(&p)->type != T_EOF) {
            tokens_forget_read(&p);
            parse_body(&p, &ops, NULL, NULL, 0);
        }
        out->ops = ops.ops;
        out->n_ops = ops.n;
        ops.ops = NULL;
        find_midcircuit(out);
    } else {
        qasm_oplist_free(&ops);
        for (int i = 0; i < p.n_live; i++) qasm_oplist_free(&p.live[i]);
        rc = -1;
    }
    if (p.def_pending) p.n_defs++; /* free the half-built one too */
    for (int i = 0; i < p.n_defs; i++) {
        free((char *)p.defs[i].name);
        for (int k = 0; k < p.defs[i].n_params; k++) free(p.defs[i].params[k]);
        for (int k = 0; k < p.defs[i].n_qargs; k++) free(p.defs[i].qargs[k]);
        free(p.defs[i].params);
        free(p.defs[i].qargs);
        free(p.defs[i].body);
    }
    free(p.defs);
    if (p.sub_pending) p.n_subs++;
    for (int i = 0; i < p.n_subs; i++) {
        free(p.subs[i].name);
        for (int k = 0; k < p.subs[i].n_params; k++) free(p.subs[i].params[k].name);
        free(p.subs[i].body);
    }
    free(p.subs);
    free(p.aliases);
    free(p.xn);
    free(p.array_values);
    tokens_free(&p);
    for (int i = 0; i < p.n_streams; i++) { /* after an error inside includes: the outer streams */
        for (int b = 0; b < p.streams[i].cap_blocks; b++) free(p.streams[i].blocks[b]);
        free(p.streams[i].blocks);
    }
    return rc;
}
