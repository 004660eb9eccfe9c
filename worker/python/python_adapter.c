/*
 * The Python adapter: a worker that embeds CPython and serves the commands that the configured
 * modules register with @pitboss.command. The Python half is bridge/python/pitboss/_worker.py; this
 * half turns its answers into calls' chunks and statuses.
 *
 * The GIL is held only while Python runs: it is released while a chunk is being sent (which may
 * wait for a slow reader) and between calls.
 */
#define PY_SSIZE_T_CLEAN
#include "python/python_adapter.h"
#include "alloc.h"

#include <Python.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

#ifndef PITBOSS_PYTHON_DIR
#define PITBOSS_PYTHON_DIR ""
#endif
#ifndef PITBOSS_PYTHON_PROGRAM
#define PITBOSS_PYTHON_PROGRAM "/usr/bin/python3"
#endif

static PyObject *g_adapter; /* the pitboss._worker module */
static PyThreadState *g_main_state;
/* Each command thread keeps one Python thread state for its life. PyGILState_Ensure on a thread
 * without one would create and destroy a thread state per call (measured: 40 µs of a 44 µs no-op
 * call), and with it the thread's threading.local data (e.g. its asyncio loop). */
static _Thread_local PyThreadState *tls_state;

static void gil_take(void) {
    if (!tls_state) {
        tls_state = PyThreadState_New(g_main_state->interp);
    }
    PyEval_RestoreThread(tls_state);
}

static void gil_drop(void) { PyEval_SaveThread(); }
static pit_command *g_commands;
static const pit_command **g_command_ptrs;
static size_t g_n_commands;

/* ---------------------------------------------------------------- _pitboss_worker: ctx.cancelled */

/* What a Context asks to learn of a cancel. It may outlive its call (a handler can keep the ctx):
 * the call sets ctx to NULL when it ends, and the capsule frees the struct. */
typedef struct {
    pit_cmd_ctx *ctx;
} cancel_token;

static void token_free(PyObject *capsule) { free(PyCapsule_GetPointer(capsule, "pitboss.cancel")); }

static PyObject *py_cancelled(PyObject *capsule, PyObject *unused) {
    (void)unused;
    cancel_token *t = PyCapsule_GetPointer(capsule, "pitboss.cancel");
    if (!t) return NULL;
    return PyBool_FromLong(t->ctx ? pit_cmd_cancelled(t->ctx) : 0);
}

static PyMethodDef cancelled_def = {"cancelled", py_cancelled, METH_NOARGS, "True once the call was cancelled."};

static PyModuleDef native_module = {PyModuleDef_HEAD_INIT, "_pitboss_worker", "pitboss worker internals", -1, NULL,
                                    NULL, NULL, NULL, NULL};

static PyObject *init_native_module(void) { return PyModule_Create(&native_module); }

/* ---------------------------------------------------------------- start-up */

static char *str_of(PyObject *o) {
    const char *s = PyUnicode_Check(o) ? PyUnicode_AsUTF8(o) : NULL;
    if (!s) PyErr_Clear();
    return pit_strdup(s ? s : "");
}

static PyObject *str_list(const char *const *items, size_t n) {
    PyObject *l = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; i < n; i++) PyList_SET_ITEM(l, (Py_ssize_t)i, PyUnicode_FromString(items[i]));
    return l;
}

/* The exception as "Type: message", and its traceback printed to stderr (the supervisor's log). */
static void describe_exception(char *out, size_t len) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    const char *tname = type ? ((PyTypeObject *)type)->tp_name : "Exception";
    PyObject *msg = value ? PyObject_Str(value) : NULL;
    snprintf(out, len, "%s: %s", tname, msg && PyUnicode_Check(msg) ? PyUnicode_AsUTF8(msg) : "");
    Py_XDECREF(msg);
    PyErr_Restore(type, value, tb);
    PyErr_Print();
}

static int commands_from(PyObject *list) {
    Py_ssize_t n = PyList_Size(list);
    g_commands = pit_calloc((size_t)n + 1, sizeof *g_commands);
    g_command_ptrs = pit_calloc((size_t)n + 1, sizeof *g_command_ptrs);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *d = PyList_GetItem(list, i); /* (name, doc, streaming, [(name, type, required, default)]) */
        pit_command *c = &g_commands[i];
        c->name = str_of(PyTuple_GetItem(d, 0));
        c->doc = str_of(PyTuple_GetItem(d, 1));
        c->streaming = PyObject_IsTrue(PyTuple_GetItem(d, 2));
        c->quick = 0;
        c->run = pit_py_run;
        PyObject *params = PyTuple_GetItem(d, 3);
        Py_ssize_t np = PyList_Size(params);
        pit_cmd_param *ps = pit_calloc((size_t)np + 1, sizeof *ps);
        for (Py_ssize_t k = 0; k < np; k++) {
            PyObject *p = PyList_GetItem(params, k);
            ps[k].name = str_of(PyTuple_GetItem(p, 0));
            ps[k].type = str_of(PyTuple_GetItem(p, 1));
            ps[k].required = PyObject_IsTrue(PyTuple_GetItem(p, 2));
            ps[k].default_json = str_of(PyTuple_GetItem(p, 3));
        }
        c->params = ps;
        c->n_params = (size_t)np;
        g_command_ptrs[i] = c;
    }
    g_n_commands = (size_t)n;
    return 0;
}

int pit_py_init(const pit_py_options *o, char *err, size_t errlen, char *reason, size_t reasonlen) {
    PyImport_AppendInittab("_pitboss_worker", init_native_module);
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0; /* libev keeps the signals */
    config.buffered_stdio = 0;          /* prints reach the log at once */
    config.parse_argv = 0;
    /* So that Debian's dist-packages (numpy, grpc, ...) are on sys.path. */
    PyStatus st = PyConfig_SetBytesString(&config, &config.program_name, PITBOSS_PYTHON_PROGRAM);
    if (!PyStatus_Exception(st)) st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st)) {
        snprintf(err, errlen, "cannot start the Python interpreter: %s", st.err_msg ? st.err_msg : "unknown error");
        return -1;
    }
    /* The pitboss package: next to the sources, unless PITBOSS_PYTHON_DIR says otherwise. */
    const char *bridge = getenv("PITBOSS_PYTHON_DIR");
    if (!bridge || !*bridge) bridge = PITBOSS_PYTHON_DIR;
    PyObject *sys_path = PySys_GetObject("path"); /* borrowed */
    if (bridge[0]) {
        PyObject *p = PyUnicode_FromString(bridge);
        PyList_Insert(sys_path, 0, p);
        Py_DECREF(p);
    }
    g_adapter = PyImport_ImportModule("pitboss._worker");
    if (!g_adapter) {
        char what[512];
        describe_exception(what, sizeof what);
        snprintf(err, errlen, "cannot import the pitboss package from %s: %s (set PITBOSS_PYTHON_DIR)", bridge, what);
        snprintf(reason, reasonlen, "%s (importing the pitboss package from %s)", what, bridge);
        return -1;
    }
    PyObject *mods = str_list(o->modules, o->n_modules);
    PyObject *paths = str_list(o->paths, o->n_paths);
    PyObject *cmds = PyObject_CallMethod(g_adapter, "load", "OOLi", mods, paths, (long long)o->session_ttl_s,
                                         !o->imports_only);
    Py_DECREF(mods);
    Py_DECREF(paths);
    if (!cmds) {
        char what[700];
        describe_exception(what, sizeof what);
        char names[256] = "";
        size_t used = 0;
        for (size_t i = 0; i < o->n_modules && used < sizeof names; i++)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", o->modules[i]);
        snprintf(err, errlen, "cannot load the handler module(s) %s: %s", names, what);
        /* The reason a pool shows: the exception's own line and the module being imported (or the
         * start-up hook that failed), not a piece of the traceback. */
        PyObject *stage = PyObject_GetAttrString(g_adapter, "loading");
        const char *at = stage && PyUnicode_Check(stage) ? PyUnicode_AsUTF8(stage) : NULL;
        if (at && *at)
            snprintf(reason, reasonlen, "%s (%s)", what, at);
        else
            snprintf(reason, reasonlen, "%s", what);
        Py_XDECREF(stage);
        PyErr_Clear();
        return -1;
    }
    commands_from(cmds);
    Py_DECREF(cmds);
    g_main_state = PyEval_SaveThread(); /* from here on, threads take the GIL as they need it */
    return 0;
}

const pit_command *const *pit_py_commands(size_t *n) {
    *n = g_n_commands;
    return g_command_ptrs;
}

/* ---------------------------------------------------------------- calls */

static void fill_error(pit_cmd_result *out, PyObject *t) {
    /* ("error", code, type, message, traceback) */
    out->code = (grpc_status_code)PyLong_AsLong(PyTuple_GetItem(t, 1));
    const char *type = PyUnicode_AsUTF8(PyTuple_GetItem(t, 2));
    const char *msg = PyUnicode_AsUTF8(PyTuple_GetItem(t, 3));
    const char *tb = PyUnicode_AsUTF8(PyTuple_GetItem(t, 4));
    snprintf(out->error_type, sizeof out->error_type, "%s", type ? type : "");
    snprintf(out->message, sizeof out->message, "%s", msg ? msg : "handler error");
    if (tb && tb[0]) out->traceback = pit_strdup(tb);
    PyErr_Clear();
}

static void internal_error(pit_cmd_result *out, const char *where) {
    char what[512];
    describe_exception(what, sizeof what);
    pit_cmd_result_error(out, GRPC_STATUS_INTERNAL, "pitboss python adapter, %s: %s", where, what);
}

void pit_py_run(pit_cmd_ctx *ctx, json_t *args, pit_cmd_result *out) {
    (void)args; /* Python reads the JSON text itself */
    gil_take();
    cancel_token *token = pit_calloc(1, sizeof *token);
    token->ctx = ctx;
    PyObject *capsule = PyCapsule_New(token, "pitboss.cancel", token_free);
    PyObject *cancel_fn = PyCFunction_New(&cancelled_def, capsule);
    Py_DECREF(capsule);

    size_t plen;
    const uint8_t *payload = pit_cmd_payload(ctx, &plen);
    int64_t left_ms = pit_deadline_remaining_ms(pit_cmd_deadline(ctx));
    PyObject *deadline = left_ms == INT64_MAX ? (Py_INCREF(Py_None), Py_None)
                                              : PyFloat_FromDouble((double)pit_wall_us() / 1e6 + (double)left_ms / 1e3);
    PyObject *call = PyObject_CallMethod(g_adapter, "start", "ss#y#sOO", pit_cmd_command(ctx)->name,
                                         pit_cmd_args_text(ctx), (Py_ssize_t)strlen(pit_cmd_args_text(ctx)),
                                         (const char *)payload, (Py_ssize_t)plen, pit_cmd_session_id(ctx), deadline,
                                         cancel_fn);
    Py_DECREF(deadline);
    if (!call) {
        internal_error(out, "start");
    } else if (PyTuple_Check(call)) {
        fill_error(out, call);
    } else {
        for (;;) {
            if (pit_cmd_cancelled(ctx)) {
                PyObject *r = PyObject_CallMethod(call, "close", NULL);
                Py_XDECREF(r);
                PyErr_Clear();
                pit_cmd_result_error(out, pit_cmd_deadline_passed(ctx) ? GRPC_STATUS_DEADLINE_EXCEEDED : GRPC_STATUS_CANCELLED,
                                     "%s stopped: the call was %s", pit_cmd_command(ctx)->name,
                                     pit_cmd_deadline_passed(ctx) ? "past its deadline" : "cancelled");
                break;
            }
            PyObject *r = PyObject_CallMethod(call, "step", NULL);
            if (!r) {
                internal_error(out, "step");
                break;
            }
            const char *kind = PyUnicode_AsUTF8(PyTuple_GetItem(r, 0));
            if (strcmp(kind, "error") == 0) {
                fill_error(out, r);
                Py_DECREF(r);
                break;
            }
            PyObject *text = PyTuple_GetItem(r, 1), *bytes = PyTuple_GetItem(r, 2);
            Py_ssize_t tlen;
            const char *json_text = PyUnicode_AsUTF8AndSize(text, &tlen);
            char *data = NULL;
            Py_ssize_t dlen = 0;
            PyBytes_AsStringAndSize(bytes, &data, &dlen);
            if (strcmp(kind, "final") == 0) {
                out->value_json = pit_strdup(json_text);
                if (dlen) {
                    out->payload = pit_malloc((size_t)dlen);
                    memcpy(out->payload, data, (size_t)dlen);
                    out->payload_len = (size_t)dlen;
                }
                Py_DECREF(r);
                break;
            }
            /* A chunk: send it without the GIL (r keeps the text and bytes alive meanwhile). */
            PyThreadState *ts = PyEval_SaveThread();
            int sent = pit_cmd_emit_text(ctx, json_text, (const uint8_t *)data, (size_t)dlen);
            PyEval_RestoreThread(ts);
            Py_DECREF(r);
            if (sent != 0) continue; /* the top of the loop sees the cancel and closes the generator */
        }
        Py_DECREF(call);
    }
    token->ctx = NULL; /* a ctx kept by the handler must not reach this call any more */
    Py_DECREF(cancel_fn);
    gil_drop();
}

int pit_py_close_session(const char *session_id) {
    gil_take();
    PyObject *r = PyObject_CallMethod(g_adapter, "close_session", "s", session_id);
    int closed = r && PyObject_IsTrue(r);
    Py_XDECREF(r);
    PyErr_Clear();
    gil_drop();
    return closed;
}

void pit_py_finalize(void) {
    if (!g_main_state) return;
    PyEval_RestoreThread(g_main_state);
    PyObject *r = PyObject_CallMethod(g_adapter, "shutdown", NULL);
    Py_XDECREF(r);
    PyErr_Clear();
    Py_CLEAR(g_adapter);
    Py_FinalizeEx();
    g_main_state = NULL;
    for (size_t i = 0; i < g_n_commands; i++) {
        pit_command *c = &g_commands[i];
        for (size_t k = 0; k < c->n_params; k++) {
            free((char *)c->params[k].name);
            free((char *)c->params[k].type);
            free((char *)c->params[k].default_json);
        }
        free((pit_cmd_param *)c->params);
        free((char *)c->name);
        free((char *)c->doc);
    }
    free(g_commands);
    free(g_command_ptrs);
}
