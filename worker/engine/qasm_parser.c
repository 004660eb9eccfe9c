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
    /* Classical scalars (input, const, float/int/uint/angle/bool with a constant value): the parser
     * folds them where they are used. Reassigning one is not supported yet. */
    struct {
        char name[64];
        double value;
    } vars[64];
    int n_vars;
    long loop_iterations; /* all for loops' together: bounded (QASM_MAX_LOOP_ITERATIONS) */
} parser;

/* A for loop unrolls at parse time (its range is constant); every iteration of every loop counts. */
#define QASM_MAX_LOOP_ITERATIONS 1000000L

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
    if (t)
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
        static const char *const two[] = {"->", "==", "!=", "<=", ">=", "&&", "||", "**", NULL};
        t->type = T_PUNCT;
        s++;
        for (int k = 0; two[k]; k++)
            if (t->s[0] == two[k][0] && t->s[1] == two[k][1]) s = t->s + 2;
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

static double expr(parser *p, const param_env *env);

static double primary(parser *p, const param_env *env) {
    token *t = peek(p);
    if (accept(p, "(")) {
        enter(p, t);
        double v = expr(p, env);
        expect(p, ")", "to close the parenthesis");
        leave(p);
        return v;
    }
    if (t->type == T_NUM) {
        next(p);
        return t->num;
    }
    if (t->type == T_ID) {
        next(p);
        if (tok_is(t, "pi") || tok_is(t, "\xcf\x80")) return M_PI;
        if (tok_is(t, "tau") || tok_is(t, "\xcf\x84")) return 2 * M_PI;
        if (tok_is(t, "euler") || tok_is(t, "\xe2\x84\x87")) return M_E;
        if (tok_is(t, "true")) return 1;
        if (tok_is(t, "false")) return 0;
        for (int i = 0; env && i < env->n; i++)
            if (tok_is(t, env->names[i])) return env->values[i];
        for (int i = 0; i < p->n_vars; i++)
            if (tok_is(t, p->vars[i].name)) return p->vars[i].value;
        static const char *const fns[] = {"sin", "cos", "tan", "exp", "ln", "sqrt", "arcsin", "arccos", "arctan", NULL};
        for (int k = 0; fns[k]; k++) {
            if (!tok_is(t, fns[k])) continue;
            expect(p, "(", "after a function name");
            enter(p, t);
            double a = expr(p, env);
            expect(p, ")", "to close the function call");
            leave(p);
            switch (k) {
            case 0: return sin(a);
            case 1: return cos(a);
            case 2: return tan(a);
            case 3: return exp(a);
            case 4:
                if (a <= 0) fail_at(p, t, QASM_SYNTAX, "ln of %g: the argument must be positive", a);
                return log(a);
            case 5:
                if (a < 0) fail_at(p, t, QASM_SYNTAX, "sqrt of %g: the argument must not be negative", a);
                return sqrt(a);
            case 6: return asin(a);
            case 7: return acos(a);
            default: return atan(a);
            }
        }
        fail_at(p, t, QASM_SYNTAX, "unknown name '%.*s' in an expression (known: pi, tau, euler, true, false, the "
                "gate's parameters, declared constants and inputs, sin cos tan exp ln sqrt arcsin arccos arctan)",
                t->len, t->s);
    }
    char got[64];
    describe(t, got, sizeof got);
    fail_at(p, t, QASM_SYNTAX, "expected a number or an expression, got %s", got);
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

static double unary(parser *p, const param_env *env) {
    /* A run of signs is folded in a loop: a million '-' must not be a million stack frames. */
    int negative = 0;
    for (;;) {
        if (accept(p, "-"))
            negative = !negative;
        else if (!accept(p, "+"))
            break;
    }
    double v = primary(p, env);
    /* ^ and ** bind tighter than unary minus on their left and are right-associative */
    token *op = peek(p);
    if (accept(p, "^") || accept(p, "**")) {
        enter(p, op);
        v = pow(v, unary(p, env));
        leave(p);
    }
    return negative ? -v : v;
}

static double term(parser *p, const param_env *env) {
    double v = unary(p, env);
    for (;;) {
        token *t = peek(p);
        if (accept(p, "*")) {
            v *= unary(p, env);
        } else if (accept(p, "/")) {
            double d = unary(p, env);
            if (d == 0) fail_at(p, t, QASM_SYNTAX, "division by zero");
            v /= d;
        } else {
            return v;
        }
    }
}

static double expr(parser *p, const param_env *env) {
    double v = term(p, env);
    for (;;) {
        if (accept(p, "+"))
            v += term(p, env);
        else if (accept(p, "-"))
            v -= term(p, env);
        else
            return v;
    }
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

/* An operand: one element (count = 1), or several that a call broadcasts over (whole): a register
 * (count = size, from start), or a range or set of its indices (q[0:2], q[{0, 3}]), listed. */
typedef struct {
    int start, count, whole;
    const token *at;
    int has_list;
    int list[QASM_MAX_QUBITS];
} operand;

static int op_qubit(const operand *o, int i) { return o->has_list ? o->list[i] : o->start + i; }

/* After '[' of name[...]: a range a:b or a:step:b (inclusive, as OpenQASM 3's), or a set {a, b, ...}. */
static void parse_index_list(parser *p, const qasm_register *r, operand *o, const token *at, long a) {
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
            o->list[o->count++] = r->start + (int)idx;
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
    for (long i = a; step > 0 ? i <= b : i >= b; i += step) o->list[o->count++] = r->start + (int)i;
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
    qasm_register *r = quantum ? find_reg(p->c->qregs, p->c->n_qregs, name) : find_reg(p->c->cregs, p->c->n_cregs, name);
    if (!r) {
        int other = quantum ? find_reg(p->c->cregs, p->c->n_cregs, name) != NULL
                            : find_reg(p->c->qregs, p->c->n_qregs, name) != NULL;
        fail_at(p, name, QASM_SYNTAX, "'%.*s' is %s", name->len, name->s,
                other ? (quantum ? "a classical register, not qubits" : "a qubit register, not classical bits")
                      : (quantum ? "not a declared qubit register" : "not a declared classical register"));
    }
    if (accept(p, "[")) {
        token *it = peek(p);
        if (it->type == T_PUNCT && tok_is(it, "{")) {
            parse_index_list(p, r, &o, it, 0);
            expect(p, "]", "after the indices");
            return o;
        }
        long idx = int_value(p, "an index");
        if (accept(p, ":")) {
            parse_index_list(p, r, &o, it, idx);
            expect(p, "]", "after the indices");
            return o;
        }
        if (idx < 0 || idx >= r->size)
            fail_at(p, it, QASM_SYNTAX, "index %ld is out of range for '%s' (size %d)", idx, r->name, r->size);
        expect(p, "]", "after the index");
        o.start = r->start + (int)idx;
        return o;
    }
    o.start = r->start;
    if (r->scalar) return o; /* one qubit: repeated, not broadcast, in a gate call over registers */
    o.count = r->size;
    o.whole = 1;
    return o;
}

/* ---------------------------------------------------------------- gates: definition and expansion */

static gate_def *find_def(parser *p, const token *t) {
    for (int i = p->n_defs - 1; i >= 0; i--)
        if (tok_is(t, p->defs[i].name)) return &p->defs[i];
    return NULL;
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
    int body_start = p->pos;
    int level = 1;
    while (level) {
        token *t = next(p);
        if (t->type == T_EOF) fail_at(p, open, QASM_SYNTAX, "the body of gate '%s' has no closing '}'", d->name);
        if (t->type == T_PUNCT && tok_is(t, "{")) level++;
        if (t->type == T_PUNCT && tok_is(t, "}")) level--;
        /* Checked now, not at the first call: a bad definition is an error even if never used. */
        static const char *const banned[] = {"measure", "reset", "if", "qubit", "bit", "qreg", "creg", "gate", NULL};
        for (int k = 0; t->type == T_ID && banned[k]; k++)
            if (tok_is(t, banned[k]))
                fail_at(p, t, QASM_SYNTAX, "'%s' is not allowed inside a gate definition", banned[k]);
    }
    /* The stream forgets these tokens after this statement: the definition keeps its own copy. */
    int close = p->pos - 1;
    d->body_n = close - body_start;
    d->body = pit_malloc((size_t)(d->body_n + 2) * sizeof(token));
    for (int i = body_start; i <= close; i++) d->body[i - body_start] = *tok_at(p, i);
    d->body[d->body_n + 1] = d->body[d->body_n]; /* the sentinel: at the '}', but the end */
    d->body[d->body_n + 1].type = T_EOF;
    d->body[d->body_n + 1].len = 0;
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
        qasm_op *op = qasm_oplist_push(out);
        op->kind = OP_MEASURE;
        op->targets[0] = op_qubit(q, i);
        op->cbit = op_qubit(c, i);
    }
}

static void parse_if(parser *p, qasm_oplist *out, const token *at) {
    expect(p, "(", "after if");
    token *reg = expect_id(p, "a classical register or bit");
    qasm_register *r = find_reg(p->c->cregs, p->c->n_cregs, reg);
    if (!r) fail_at(p, reg, QASM_SYNTAX, "'%.*s' is not a declared classical register", reg->len, reg->s);
    int start = r->start, len = r->size;
    if (accept(p, "[")) {
        token *it = peek(p);
        long idx = expect_int(p, "an index");
        if (idx < 0 || idx >= r->size) fail_at(p, it, QASM_SYNTAX, "index %ld is out of range for '%s'", idx, r->name);
        expect(p, "]", "after the index");
        start += (int)idx;
        len = 1;
    }
    uint64_t value = 1;
    if (accept(p, "==")) {
        token *vt = peek(p);
        if (tok_is(vt, "true") || tok_is(vt, "false")) {
            next(p);
            value = tok_is(vt, "true");
        } else {
            long v = expect_int(p, "the value to compare with");
            if (v < 0 || (len < 64 && (uint64_t)v >> len))
                fail_at(p, vt, QASM_SYNTAX, "%ld does not fit in %d classical bit(s)", v, len);
            value = (uint64_t)v;
        }
    } else if (len != 1) {
        fail_at(p, peek(p), QASM_SYNTAX, "expected '==' and a value after the register in the if condition");
    }
    expect(p, ")", "to close the if condition");
    qasm_oplist *body = live_open(p, at);
    enter(p, at);
    if (accept(p, "{")) {
        while (!accept(p, "}")) {
            if (peek(p)->type == T_EOF) fail_at(p, at, QASM_SYNTAX, "the if block has no closing '}'");
            parse_body(p, body, NULL, NULL, 0);
        }
    } else {
        parse_body(p, body, NULL, NULL, 0);
    }
    leave(p);
    qasm_op *op = qasm_oplist_push(out);
    op->kind = OP_IF;
    op->cond_start = start;
    op->cond_len = len;
    op->cond_value = value;
    op->body = body->ops; /* out owns the body now */
    op->n_body = body->n;
    body->ops = NULL;
    body->n = 0;
    live_close(p);
    p->c->has_midcircuit = 1;
}

/* One statement into out. Inside a gate body only gate calls, gphase and barrier are allowed. */
static int is_scalar_type(const token *t) {
    return t->type == T_ID && (tok_is(t, "float") || tok_is(t, "int") || tok_is(t, "uint") || tok_is(t, "angle") ||
                               tok_is(t, "bool"));
}

/* After a classical type's keyword: its optional [size], which a folded value does not need. */
static void skip_type_size(parser *p) {
    if (accept(p, "[")) {
        expect_int(p, "the type's size");
        expect(p, "]", "after the type's size");
    }
}

/* A new classical variable (a declaration's, once its value is known, or a loop's): its slot. */
static int var_add(parser *p, const token *name, double value) {
    for (int i = 0; i < p->n_vars; i++)
        if (tok_is(name, p->vars[i].name))
            fail_at(p, name, QASM_SYNTAX, "'%.*s' is already declared", name->len, name->s);
    if (find_reg(p->c->qregs, p->c->n_qregs, name) || find_reg(p->c->cregs, p->c->n_cregs, name))
        fail_at(p, name, QASM_SYNTAX, "'%.*s' is already declared", name->len, name->s);
    if (p->n_vars == 64) fail_at(p, name, QASM_TOO_LARGE, "more than 64 classical variables");
    snprintf(p->vars[p->n_vars].name, sizeof p->vars[0].name, "%.*s", name->len, name->s);
    p->vars[p->n_vars].value = value;
    return p->n_vars++;
}

/* [const | input | output] TYPE[size]? name (= value)? ;  with TYPE float, int, uint, angle or bool.
 * Inputs take their value from the request (qasm_limits.input_*); the others from a constant
 * expression (0 without one). Folded wherever the name is used. */
static void parse_scalar_decl(parser *p, const token *first) {
    int is_input = tok_is(first, "input"), is_output = tok_is(first, "output"), is_const = tok_is(first, "const");
    if (is_input || is_output || is_const) next(p);
    token *type = peek(p);
    if (!is_scalar_type(type)) {
        if (is_input || is_output)
            fail_at(p, type, QASM_SYNTAX, "%s of this type is not supported (float, int, uint, angle or bool are)",
                    is_input ? "input" : "output");
        fail_at(p, type, QASM_SYNTAX, "expected a classical type (float, int, uint, angle or bool) after const");
    }
    next(p);
    skip_type_size(p);
    token *name = expect_id(p, "the variable's name");
    double value = 0;
    if (is_input) {
        int found = 0;
        for (int i = 0; i < p->lim->n_inputs; i++)
            if (tok_is(name, p->lim->input_names[i])) {
                value = p->lim->input_values[i];
                found = 1;
            }
        if (!found)
            fail_at(p, name, QASM_SYNTAX, "the circuit declares input '%.*s': give its value in run_circuit's "
                    "\"inputs\" ({\"%.*s\": ...})", name->len, name->s, name->len, name->s);
    } else if (accept(p, "=")) {
        value = finite_expr(p, NULL, "the variable's value");
    } else if (is_const) {
        fail_at(p, name, QASM_SYNTAX, "const '%.*s' needs a value (const float x = ...;)", name->len, name->s);
    }
    if (is_output) warn_once(p, "output variables are not reported (the result holds the measurement counts)");
    if (tok_is(type, "int") || tok_is(type, "uint")) value = trunc(value);
    if (tok_is(type, "bool")) value = value != 0;
    var_add(p, name, value);
    if (peek(p)->type == T_PUNCT && tok_is(peek(p), "="))
        fail_at(p, peek(p), QASM_SYNTAX, "an input takes its value from the request, not from the program");
    expect(p, ";", "after the declaration");
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

/* for [type] name in [a:b] | [a:step:b] | {v, ...} body: the body is parsed once per value, with
 * name bound to it (a constant while it runs), so that `h q[i];` indexes as the loop goes. The
 * tokens of one top-level statement stay until it ends, so going back to the body is safe. */
static void parse_for(parser *p, qasm_oplist *out, const token *at) {
    if (is_scalar_type(peek(p))) {
        next(p);
        skip_type_size(p);
    }
    token *name = expect_id(p, "the loop variable");
    if (!tok_is(peek(p), "in")) fail_at(p, peek(p), QASM_SYNTAX, "expected 'in' after the loop variable");
    next(p);
    double values[256];
    int n_values = 0, is_range = 0;
    long a = 0, step = 1, b = -1;
    if (accept(p, "{")) {
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
    int slot = var_add(p, name, 0);
    int body = p->pos;
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
        if (++p->loop_iterations > QASM_MAX_LOOP_ITERATIONS)
            fail_at(p, at, QASM_TOO_LARGE, "more than %ld loop iterations in the circuit", QASM_MAX_LOOP_ITERATIONS);
        p->vars[slot].value = v;
        p->pos = body;
        if (accept(p, "{")) {
            while (!accept(p, "}")) {
                if (peek(p)->type == T_EOF) fail_at(p, at, QASM_SYNTAX, "the loop's body has no closing '}'");
                parse_body(p, out, NULL, NULL, 0);
            }
        } else {
            parse_body(p, out, NULL, NULL, 0);
        }
        done++;
    }
    if (!done) { /* no iteration: step over the body unparsed */
        p->pos = body;
        skip_statement(p, at);
    }
    leave(p);
    p->n_vars--; /* the variable's scope is the loop */
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
        if (!tok_is(f, "\"stdgates.inc\"") && !tok_is(f, "\"qelib1.inc\""))
            fail_at(p, f, QASM_SYNTAX, "cannot include %.*s: only \"stdgates.inc\" and \"qelib1.inc\" are built in",
                    f->len, f->s);
        expect(p, ";", "after the include");
        return;
    }
    if (tok_is(t, "input") || tok_is(t, "output") || tok_is(t, "const") || is_scalar_type(t)) {
        parse_scalar_decl(p, t);
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
    if (tok_is(t, "delay")) {
        next(p);
        skip_statement(p, t);
        warn_once(p, "delay is ignored: a state-vector simulation has no time");
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
        token *open = peek(p);
        expect(p, "{", "to start the box's body");
        enter(p, open);
        while (!accept(p, "}")) {
            if (peek(p)->type == T_EOF) fail_at(p, open, QASM_SYNTAX, "the box has no closing '}'");
            parse_body(p, out, penv, qenv, 0);
        }
        leave(p);
        warn_once(p, "box timing is ignored (its body runs)");
        return;
    }
    if (tok_is(t, "for")) {
        next(p);
        parse_for(p, out, t);
        return;
    }
    if (tok_is(t, "opaque") || tok_is(t, "def") || tok_is(t, "while") || tok_is(t, "let"))
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
            qasm_op *op = qasm_oplist_push(out);
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
    /* c = measure q;  c[i] = measure q[j]; */
    if (find_reg(p->c->cregs, p->c->n_cregs, t)) {
        operand c = parse_operand(p, 0, NULL);
        expect(p, "=", "after the classical bits (to assign a measurement: c = measure q;)");
        token *m = peek(p);
        if (!tok_is(m, "measure")) fail_at(p, m, QASM_SYNTAX, "expected 'measure' after '=' (only measurements can be assigned)");
        next(p);
        operand q = parse_operand(p, 1, NULL);
        push_measure(p, out, &q, &c, m);
        expect(p, ";", "after the measurement");
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
    tokens_free(&p);
    return rc;
}
