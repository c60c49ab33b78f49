/* Byte spans of the top-level members of a JSON object, for rewriting a few members without re-encoding the rest.
 *
 * members(body, limit) -> ((key_start, key_end, value_start, value_end), ...) or None
 *
 * key_start is the key's opening quote and key_end the byte after its closing quote; value_start is the value's
 * first byte and value_end the byte after its last. None when the body is not one JSON object with nothing but
 * whitespace around it, when a string or bracket is left open, when brackets do not pair up, when nesting is
 * deeper than MAX_DEPTH, or when there are more than ``limit`` members (a body whose decoded document has fewer
 * keys than that repeats a key).
 *
 * The body is expected to be valid JSON already (the request parser accepted it): the scan checks the structure,
 * not the contents of strings or numbers. String contents are skipped with memchr for the next quote, then the
 * backslashes right before it are counted (an odd run escapes it). No recursion, no allocation but the span list.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 4096          /* orjson stops at 1024; deeper bodies are rejected before a rewrite */
#define RELEASE_GIL_BYTES 65536 /* below this the scan takes a few microseconds: keep the GIL */

typedef struct {
    Py_ssize_t key_start, key_end, value_start, value_end;
} span;

typedef struct {
    span *items;
    Py_ssize_t len, cap;
} span_list;

enum { SCAN_UNEXPECTED = -1, SCAN_NO_MEMORY = -2 };

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static Py_ssize_t skip_space(const unsigned char *s, Py_ssize_t i, Py_ssize_t n) {
    while (i < n && is_space(s[i])) {
        i++;
    }
    return i;
}

/* s[i] is an opening quote: the index after the closing quote, or -1 when the string never ends. */
static Py_ssize_t skip_string(const unsigned char *s, Py_ssize_t i, Py_ssize_t n) {
    Py_ssize_t from = i + 1;
    for (;;) {
        const unsigned char *quote = memchr(s + from, '"', (size_t)(n - from));
        if (quote == NULL) {
            return -1;
        }
        Py_ssize_t q = quote - s;
        Py_ssize_t b = q;
        while (b > i + 1 && s[b - 1] == '\\') {
            b--;
        }
        if (((q - b) & 1) == 0) {
            return q + 1;
        }
        from = q + 1;
    }
}

/* A byte of a number or of true/false/null. */
static int is_scalar(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-' || c == '+' || c == '.' || c == 'E';
}

/* s[i] is a value's first byte: the index after the value, or -1. Nested brackets are paired with a bit stack
 * (1 = object, 0 = array). */
static Py_ssize_t skip_value(const unsigned char *s, Py_ssize_t i, Py_ssize_t n) {
    unsigned char c = s[i];
    if (c == '"') {
        return skip_string(s, i, n);
    }
    if (c != '{' && c != '[') {
        Py_ssize_t j = i;
        while (j < n && is_scalar(s[j])) {
            j++;
        }
        return j > i ? j : -1;
    }
    uint64_t kinds[MAX_DEPTH / 64];
    Py_ssize_t depth = 0;
    while (i < n) {
        c = s[i];
        if (c == '"') {
            i = skip_string(s, i, n);
            if (i < 0) {
                return -1;
            }
            continue;
        }
        if (c == '{' || c == '[') {
            if (depth == MAX_DEPTH) {
                return -1;
            }
            uint64_t bit = (uint64_t)1 << (depth % 64);
            if (c == '{') {
                kinds[depth / 64] |= bit;
            } else {
                kinds[depth / 64] &= ~bit;
            }
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0) {
                return -1;
            }
            depth--;
            int is_object = (int)((kinds[depth / 64] >> (depth % 64)) & 1);
            if (is_object != (c == '}')) {
                return -1;
            }
            if (depth == 0) {
                return i + 1;
            }
        }
        i++;
    }
    return -1;
}

static int push(span_list *list, span item) {
    if (list->len == list->cap) {
        Py_ssize_t cap = list->cap ? list->cap * 2 : 16;
        span *items = PyMem_RawRealloc(list->items, (size_t)cap * sizeof(span));
        if (items == NULL) {
            return SCAN_NO_MEMORY;
        }
        list->items = items;
        list->cap = cap;
    }
    list->items[list->len++] = item;
    return 0;
}

/* Fills ``out`` with the top-level members; 0, SCAN_UNEXPECTED or SCAN_NO_MEMORY. Runs without the GIL. */
static int scan(const unsigned char *s, Py_ssize_t n, Py_ssize_t limit, span_list *out) {
    Py_ssize_t i = skip_space(s, 0, n);
    if (i == n || s[i] != '{') {
        return SCAN_UNEXPECTED;
    }
    i = skip_space(s, i + 1, n);
    if (i < n && s[i] == '}') {
        return skip_space(s, i + 1, n) == n ? 0 : SCAN_UNEXPECTED;
    }
    for (;;) {
        span m;
        if (i == n || s[i] != '"') {
            return SCAN_UNEXPECTED;
        }
        m.key_start = i;
        m.key_end = skip_string(s, i, n);
        if (m.key_end < 0) {
            return SCAN_UNEXPECTED;
        }
        i = skip_space(s, m.key_end, n);
        if (i == n || s[i] != ':') {
            return SCAN_UNEXPECTED;
        }
        i = skip_space(s, i + 1, n);
        if (i == n) {
            return SCAN_UNEXPECTED;
        }
        m.value_start = i;
        m.value_end = skip_value(s, i, n);
        if (m.value_end < 0) {
            return SCAN_UNEXPECTED;
        }
        if (out->len == limit) {
            return SCAN_UNEXPECTED;
        }
        int err = push(out, m);
        if (err) {
            return err;
        }
        i = skip_space(s, m.value_end, n);
        if (i == n) {
            return SCAN_UNEXPECTED;
        }
        if (s[i] == '}') {
            return skip_space(s, i + 1, n) == n ? 0 : SCAN_UNEXPECTED;
        }
        if (s[i] != ',') {
            return SCAN_UNEXPECTED;
        }
        i = skip_space(s, i + 1, n);
    }
}

static PyObject *spans_tuple(const span_list *list) {
    PyObject *result = PyTuple_New(list->len);
    if (result == NULL) {
        return NULL;
    }
    for (Py_ssize_t k = 0; k < list->len; k++) {
        const span *m = &list->items[k];
        PyObject *item = Py_BuildValue("(nnnn)", m->key_start, m->key_end, m->value_start, m->value_end);
        if (item == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        PyTuple_SET_ITEM(result, k, item);
    }
    return result;
}

static PyObject *members(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "members() takes exactly 2 arguments (body, limit)");
        return NULL;
    }
    if (!PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "members() expects bytes");
        return NULL;
    }
    Py_ssize_t limit = PyLong_AsSsize_t(args[1]);
    if (limit < 0) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "members() limit must be >= 0");
        }
        return NULL;
    }
    /* ``args[0]`` is a bytes object (immutable) referenced by the caller for the whole call: its buffer stays put
     * while the GIL is released. */
    const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    Py_ssize_t n = PyBytes_GET_SIZE(args[0]);
    span_list list = {NULL, 0, 0};
    int err;
    if (n >= RELEASE_GIL_BYTES) {
        Py_BEGIN_ALLOW_THREADS
        err = scan(s, n, limit, &list);
        Py_END_ALLOW_THREADS
    } else {
        err = scan(s, n, limit, &list);
    }
    PyObject *result;
    if (err == SCAN_NO_MEMORY) {
        result = PyErr_NoMemory();
    } else if (err == SCAN_UNEXPECTED) {
        result = Py_NewRef(Py_None);
    } else {
        result = spans_tuple(&list);
    }
    PyMem_RawFree(list.items);
    return result;
}

static PyMethodDef methods[] = {
    {"members", (PyCFunction)(void (*)(void))members, METH_FASTCALL,
     "members(body, limit, /)\n--\n\n"
     "The (key_start, key_end, value_start, value_end) byte spans of the top-level members of the JSON object in "
     "``body``, or None when the body is not one object or has more than ``limit`` members."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_jsonscan",
    .m_doc = "Top-level member spans of a JSON object (see triage.requests.splice).",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__jsonscan(void) { return PyModuleDef_Init(&module_def); }
