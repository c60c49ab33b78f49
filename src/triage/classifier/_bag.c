/*
 * triage.classifier._bag: the classifier's featurizer and embedding bag in one C call per request.
 *
 * Scorer(cls_table, fold_table, table, bias, params, input_type=None, fallback=None) pins its read-only inputs
 * through the buffer protocol for its lifetime (the class and fold tables of features._tables(), the model's
 * [D, >= K+1] table as float32 or float16 and its [K+1] float32 bias) and keeps the FeatureConfig fields
 * (`params`, see native.py). Per request:
 *
 *   scorer.features(inp) -> (ids: bytes of int64, vals: bytes of float32)
 *       the rows Featurizer.featurize(inp) returns, bit for bit and in the same order;
 *   scorer.score(inp) -> (task_probs: list[float], p_strong: float)
 *       logits = vals @ table[ids] + bias, rounded to float32, then softmax and sigmoid in double as
 *       EmbeddingBag.__call__ computes them. The rows of one weight (a stream's) are summed in float32 in
 *       blocks of BLOCK_ROWS rows, and the blocks weighted and added in double: closer to the exact sum than
 *       numpy's float32 dot product, so the outputs differ from the numpy bag's in the last bits only.
 *
 * `inp` is a RoutingInput: its fields are read with the GIL held (by slot offset when it is of `input_type`,
 * a __slots__ class, else by attribute), then all the arithmetic runs with the GIL released, on the str
 * data in place (1, 2 or 4-byte kinds: no encoding) and the pinned buffers, into one per-call allocation
 * sized by the text windows. Time and memory are bounded by the windows, except the three scans the dense
 * rows make of the whole prompt (as the numpy path does). Nothing is mutated after construction: a Scorer
 * can be called from any number of threads at once.
 *
 * The structural constants (character classes, dense offsets, hash constants, size and turn edges) mirror
 * triage.classifier.features and triage.requests.input; the module exports them as LAYOUT so that the
 * Python side refuses the extension when they drift, and the model loader compares the rows with the numpy
 * featurizer's on probe inputs. The inputs this file does not reproduce exactly (a text that is not a str,
 * an int field beyond 64 bits, a negative max_tokens) raise TypeError, OverflowError or ValueError, and
 * score() hands them to `fallback` (the numpy path, which then decides) when there is one.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if PY_VERSION_HEX >= 0x030C0000
#define MEMBER_OBJECT_EX Py_T_OBJECT_EX
#else
#include <structmember.h>
#define MEMBER_OBJECT_EX T_OBJECT_EX
#endif

/* Character classes (features._Cls). Word characters first: a word character is `cls < WORDLIKE_END`. */
enum {
    C_LOWER,
    C_UPPER,
    C_DIGIT,
    C_UNDERSCORE,
    C_WORD,
    C_CJK,
    C_SPACE,
    C_NEWLINE,
    C_CODE,
    C_MATH,
    C_PUNCT,
    C_CONTROL,
    C_SYMBOL,
    C_COUNT
};
#define WORDLIKE_END 6
#define BMP 0x10000
#define EMOJI_LO 0x1F000
#define EMOJI_HI 0x1FAFF

/* Offsets of the dense rows above 2**hash_bits (features.Dense). */
enum {
    D_SIZE = 0,
    D_TURNS = 12,
    D_HAS_TOOLS = 16,
    D_JSON_OUTPUT = 17,
    D_HAS_SYSTEM = 18,
    D_CODE_FENCE = 19,
    D_DIGIT_RATIO = 20,
    D_PUNCT_RATIO = 21,
    D_UPPER_RATIO = 22,
    D_NON_ASCII_RATIO = 23,
    D_LINE_DENSITY = 24,
    D_CODE_SYMBOL_RATIO = 25,
    D_MATH_SYMBOL_RATIO = 26,
    D_ENDS_WITH_QUESTION = 27,
    D_CJK_RATIO = 28,
    D_LOG_TOKENS = 29,
    D_NUMBERS = 30,
    D_QUESTIONS = 31,
    D_LIST_ITEMS = 32,
    D_DEPTH = 33,
    D_OUTPUT_ASK = 34,
    D_USED = 35
};
/* The order the character-class ratios are emitted in (features._RATIO_OFFSETS). */
static const long long RATIO_ORDER[] = {D_DIGIT_RATIO,  D_PUNCT_RATIO,       D_UPPER_RATIO,       D_NON_ASCII_RATIO,
                                        D_LINE_DENSITY, D_CODE_SYMBOL_RATIO, D_MATH_SYMBOL_RATIO, D_CJK_RATIO};
#define MAX_DENSE_ROWS 24 /* rows _dense can emit: 2 + 5 flags + 8 ratios + 3 counts + 3 */

/* Hashing constants (features._P, _Q, _GOLDEN, _M2 and the stream salts). */
#define H_P UINT64_C(0x100000001B3)
#define H_Q UINT64_C(0x9FB21C651E98DF25)
#define H_GOLDEN UINT64_C(0x9E3779B97F4A7C15)
#define H_M2 UINT64_C(0xC4CEB9FE1A85EC53)
#define SALT_WORD1 UINT64_C(0x1F3D5B79A2C4E6F1)
#define SALT_WORD2 UINT64_C(0x2E4C6A8B1D3F5E73)
#define SALT_CHAR UINT64_C(0x3A5C7E9B2D4F6A15)
#define SALT_SYS1 UINT64_C(0x4B6D8F1A3C5E7B27)
#define SALT_SYS2 UINT64_C(0x5C7E9A2B4D6F8C39)

static const long long SIZE_EDGES[] = {16, 64, 256, 512, 1024, 2048, 4096, 8192, 32768, 131072, 524288};
static const long long TURN_EDGES[] = {2, 3, 6};
#define N_SIZE_EDGES ((int)(sizeof SIZE_EDGES / sizeof SIZE_EDGES[0]))
#define N_TURN_EDGES ((int)(sizeof TURN_EDGES / sizeof TURN_EDGES[0]))
#define CHARS_PER_TOKEN 4

#define MAX_CHAR_ORDERS 16
#define MAX_ORDER 8
#define MAX_WIDTH 256 /* K + 1 logits */
#define MAX_RUNS (4 + MAX_CHAR_ORDERS + MAX_DENSE_ROWS) /* row runs of one weight: words, chars, dense */
#define BLOCK_ROWS 64 /* rows summed in float32 before they are added in double */

/* The RoutingInput attributes read, in this order. */
enum { F_PROMPT, F_SYSTEM, F_INPUT_CHARS, F_USER_TURNS, F_MAX_TOKENS, F_HAS_TOOLS, F_JSON_OUTPUT, N_FIELDS };
static const char *const FIELD_NAMES[N_FIELDS] = {"prompt",     "system",    "input_chars", "user_turns",
                                                  "max_tokens", "has_tools", "json_output"};

typedef void bag_fn(const void *table, Py_ssize_t stride, Py_ssize_t width, const uint32_t *ids, Py_ssize_t n,
                    double weight, double *acc);

typedef struct {
    PyObject_HEAD
    Py_buffer cls_view, fold_view, table_view, bias_view;
    int have_cls, have_fold, have_table, have_bias;
    const uint8_t *cls;   /* [BMP + 1] */
    const uint64_t *fold; /* [BMP + 1] */
    const char *table;    /* [rows, stride], float32 or float16, C order; the first `width` columns are used */
    int table_f16;
    Py_ssize_t rows, stride, width;
    const float *bias; /* [width] */
    bag_fn *bag_run;   /* adds weight * (sum of a run's rows) into the logits */
    uint64_t *powers;  /* P**k for k in [0, the longest text] */
    /* FeatureConfig */
    int hash_bits, unigrams, bigrams, n_char_orders;
    int char_orders[MAX_CHAR_ORDERS];
    /* the char orders' indices, shortest order first */
    int n_by_length;
    int by_length[MAX_CHAR_ORDERS];
    Py_ssize_t char_head, char_tail, prompt_head, prompt_tail, max_system;
    double word_weight, char_weight, system_weight, dense_weight;
    /* RoutingInput: the attribute names, and where a __slots__ class keeps them (see field()) */
    PyObject *names[N_FIELDS];
    PyTypeObject *input_type;
    Py_ssize_t offsets[N_FIELDS];
    PyObject *fallback; /* scores the inputs read_input refuses, or NULL */
} Scorer;

/* One request: the inputs read under the GIL, then the rows. */
typedef struct {
    int p_kind, s_kind;
    const void *p_data, *s_data;
    Py_ssize_t p_len;    /* the whole prompt (the dense scans read all of it, like the numpy path) */
    Py_ssize_t s_len;    /* the system window: inp.system[:max_system] */
    Py_ssize_t head_len; /* the prompt window: [0, head_len) + ("\n" if joined) + [tail_from, p_len) */
    Py_ssize_t tail_from;
    int joined;
    long long input_chars, user_turns, max_tokens;
    int has_tools, json_output, has_system;
    /* results: rows, and the runs of rows that share a weight (run q ends at run_end[q]) */
    void *mem;
    uint32_t *ids;
    float *vals;
    Py_ssize_t n_rows;
    int n_runs;
    Py_ssize_t run_end[MAX_RUNS];
    float run_weight[MAX_RUNS];
} Request;

/* ---- text: fold and class of every character ---- */

static inline void classify(const uint8_t *ctab, const uint64_t *ftab, Py_UCS4 cp, uint32_t *fold, uint8_t *cls)
{
    if (cp < BMP) {
        *fold = (uint32_t)ftab[cp];
        *cls = ctab[cp];
    } else { /* above the BMP: identity fold; a word character except emoji */
        *fold = (uint32_t)cp;
        *cls = (cp >= EMOJI_LO && cp <= EMOJI_HI) ? (uint8_t)C_SYMBOL : ctab[BMP];
    }
}

/* What one pass over the text gathers besides the folds: the word runs, and the class counts of the prompt
   window. Carried from one part of the text to the next (system, "\n", prompt head, "\n", prompt tail). */
typedef struct {
    uint32_t *bounds;  /* text positions where word runs start and end, alternately */
    Py_ssize_t n_bounds;
    unsigned in_word;  /* the previous character is a word character */
    uint32_t hist[4][16]; /* class counts (four histograms: a run of one class is not one chain of increments) */
    unsigned in_digits;   /* the previous character of the prompt window is a digit */
    long long digit_runs;
} Pass;

/* Fold, word boundaries and (COUNT) class counts of src[0:count], the text from position `at`: one table
   look-up per character and no branch on the data, so a cold branch predictor costs nothing. */
#define DEFINE_FILL(NAME, T, COUNT)                                                                          \
    static void NAME(const uint8_t *restrict ctab, const uint64_t *restrict ftab, const T *restrict src,      \
                     Py_ssize_t count, Py_ssize_t at, uint32_t *restrict fold, Pass *restrict ps)             \
    {                                                                                                        \
        uint32_t *restrict bounds = ps->bounds;                                                              \
        Py_ssize_t n_bounds = ps->n_bounds;                                                                  \
        unsigned in_word = ps->in_word, in_digits = ps->in_digits;                                           \
        long long runs = ps->digit_runs;                                                                     \
        for (Py_ssize_t i = 0; i < count; i++) {                                                             \
            uint8_t c;                                                                                       \
            classify(ctab, ftab, (Py_UCS4)src[i], &fold[i], &c);                                             \
            const unsigned word = c < WORDLIKE_END;                                                          \
            bounds[n_bounds] = (uint32_t)(at + i);                                                           \
            n_bounds += word ^ in_word;                                                                      \
            in_word = word;                                                                                  \
            if (COUNT) {                                                                                     \
                ps->hist[i & 3][c]++;                                                                        \
                const unsigned is_digit = c == C_DIGIT;                                                       \
                runs += is_digit & ~in_digits;                                                                \
                in_digits = is_digit;                                                                         \
            }                                                                                                \
        }                                                                                                    \
        ps->n_bounds = n_bounds;                                                                             \
        ps->in_word = in_word;                                                                               \
        ps->in_digits = in_digits;                                                                           \
        ps->digit_runs = runs;                                                                               \
    }
DEFINE_FILL(fill_1, Py_UCS1, 0)
DEFINE_FILL(fill_2, Py_UCS2, 0)
DEFINE_FILL(fill_4, Py_UCS4, 0)
DEFINE_FILL(count_1, Py_UCS1, 1)
DEFINE_FILL(count_2, Py_UCS2, 1)
DEFINE_FILL(count_4, Py_UCS4, 1)

/* fill_* (or count_*, when `counting`) for text[from:from + count] of a str of `kind`, at text position `at`. */
static void fill(const Scorer *s, int kind, const void *data, Py_ssize_t from, Py_ssize_t count, Py_ssize_t at,
                 uint32_t *fold, Pass *ps, int counting)
{
    if (kind == PyUnicode_1BYTE_KIND) {
        (counting ? count_1 : fill_1)(s->cls, s->fold, (const Py_UCS1 *)data + from, count, at, fold + at, ps);
    } else if (kind == PyUnicode_2BYTE_KIND) {
        (counting ? count_2 : fill_2)(s->cls, s->fold, (const Py_UCS2 *)data + from, count, at, fold + at, ps);
    } else {
        (counting ? count_4 : fill_4)(s->cls, s->fold, (const Py_UCS4 *)data + from, count, at, fold + at, ps);
    }
}

static const Py_UCS1 NEWLINE[1] = {'\n'};

/* ---- the dense rows ---- */

/* What _dense reads from the whole prompt with str methods. */
typedef struct {
    int code_fence;       /* "```" in prompt */
    int ends_with_q;      /* prompt.rstrip().endswith("?") */
    long long questions;  /* prompt.count("?") + prompt.count("？") */
    long long list_items; /* prompt.count("\n-") + prompt.count("\n*") + prompt.count("\n•") */
} PromptScan;

#define ENDS_WITH_QUESTION(p, n, out)                                                                        \
    do {                                                                                                     \
        Py_ssize_t last = (n);                                                                               \
        while (last > 0 && Py_UNICODE_ISSPACE((p)[last - 1])) {                                              \
            last--;                                                                                          \
        }                                                                                                    \
        (out)->ends_with_q = last > 0 && (p)[last - 1] == '?';                                               \
    } while (0)

/* One-byte text: '?', '\n' and '`' are rare, so memchr finds them (U+FF1F and U+2022 cannot occur). */
static void scan_1(const Py_UCS1 *p, Py_ssize_t n, PromptScan *out)
{
    const Py_UCS1 *end = p + n, *q;
    long long questions = 0, items = 0;
    int fence = 0;
    for (q = p; (q = memchr(q, '?', (size_t)(end - q))) != NULL; q++) {
        questions++;
    }
    for (q = p; (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++) {
        items += end - q > 1 && (q[1] == '-' || q[1] == '*');
    }
    for (q = p; !fence && (q = memchr(q, '`', (size_t)(end - q))) != NULL; q++) {
        fence = end - q > 2 && q[1] == '`' && q[2] == '`';
    }
    out->questions = questions;
    out->list_items = items;
    out->code_fence = fence;
    ENDS_WITH_QUESTION(p, n, out);
}

#define DEFINE_SCAN(NAME, T)                                                                                 \
    static void NAME(const T *p, Py_ssize_t n, PromptScan *out)                                              \
    {                                                                                                        \
        int fence = 0;                                                                                       \
        long long questions = 0, items = 0;                                                                  \
        Py_ssize_t ticks = 0;                                                                                \
        for (Py_ssize_t i = 0; i < n; i++) {                                                                 \
            const Py_UCS4 ch = p[i];                                                                         \
            ticks = ch == '`' ? ticks + 1 : 0;                                                               \
            fence |= ticks >= 3;                                                                             \
            questions += ch == '?' || ch == 0xFF1F;                                                          \
            if (ch == '\n' && i + 1 < n) {                                                                   \
                const Py_UCS4 next = p[i + 1];                                                               \
                items += next == '-' || next == '*' || next == 0x2022;                                       \
            }                                                                                                \
        }                                                                                                    \
        out->questions = questions;                                                                          \
        out->list_items = items;                                                                             \
        out->code_fence = fence;                                                                             \
        ENDS_WITH_QUESTION(p, n, out);                                                                       \
    }
DEFINE_SCAN(scan_2, Py_UCS2)
DEFINE_SCAN(scan_4, Py_UCS4)

static void scan_prompt(const Request *r, PromptScan *out)
{
    if (r->p_kind == PyUnicode_1BYTE_KIND) {
        scan_1((const Py_UCS1 *)r->p_data, r->p_len, out);
    } else if (r->p_kind == PyUnicode_2BYTE_KIND) {
        scan_2((const Py_UCS2 *)r->p_data, r->p_len, out);
    } else {
        scan_4((const Py_UCS4 *)r->p_data, r->p_len, out);
    }
}

static int bisect_right(const long long *edges, int n, long long x)
{
    int i = 0;
    while (i < n && edges[i] <= x) {
        i++;
    }
    return i;
}

/* The dense rows' ids and (unweighted) values, in _dense's order; `ps` counted the n characters of the
   prompt window. */
static int dense_rows(const Scorer *s, const Request *r, const Pass *ps, Py_ssize_t n, uint32_t *ids, double *vals)
{
    const uint32_t base = (uint32_t)1 << s->hash_bits;
    int m = 0;
    PromptScan scan;
    scan_prompt(r, &scan);
    const long long size = r->input_chars > (long long)r->p_len ? r->input_chars : (long long)r->p_len;
    ids[m] = base + D_SIZE + (uint32_t)bisect_right(SIZE_EDGES, N_SIZE_EDGES, size);
    vals[m++] = 1.0;
    ids[m] = base + D_TURNS + (uint32_t)bisect_right(TURN_EDGES, N_TURN_EDGES, r->user_turns);
    vals[m++] = 1.0;
    const int flags[] = {r->has_tools, r->json_output, r->has_system, scan.code_fence, scan.ends_with_q};
    const int flag_offsets[] = {D_HAS_TOOLS, D_JSON_OUTPUT, D_HAS_SYSTEM, D_CODE_FENCE, D_ENDS_WITH_QUESTION};
    for (int i = 0; i < 5; i++) {
        if (flags[i]) {
            ids[m] = base + (uint32_t)flag_offsets[i];
            vals[m++] = 1.0;
        }
    }
    if (n) {
        long long k[C_COUNT];
        for (int c = 0; c < C_COUNT; c++) {
            k[c] = (long long)ps->hist[0][c] + ps->hist[1][c] + ps->hist[2][c] + ps->hist[3][c];
        }
        const long long numbers = ps->digit_runs;
        const double dn = (double)n;
        const double ratios[] = {
            (double)k[C_DIGIT] / dn,
            (double)(k[C_PUNCT] + k[C_CODE] + k[C_MATH]) / dn,
            (double)k[C_UPPER] / dn,
            (double)(k[C_WORD] + k[C_CJK] + k[C_SYMBOL]) / dn,
            fmin(1.0, (double)k[C_NEWLINE] / 40.0), /* 40+ lines saturate */
            (double)k[C_CODE] / dn,
            (double)k[C_MATH] / dn,
            (double)k[C_CJK] / dn,
        };
        for (int i = 0; i < 8; i++) {
            if (ratios[i] > 0.0) {
                ids[m] = base + (uint32_t)RATIO_ORDER[i];
                vals[m++] = ratios[i];
            }
        }
        const long long counts[] = {numbers, scan.questions, scan.list_items};
        const int count_offsets[] = {D_NUMBERS, D_QUESTIONS, D_LIST_ITEMS};
        for (int i = 0; i < 3; i++) {
            if (counts[i]) {
                ids[m] = base + (uint32_t)count_offsets[i];
                vals[m++] = log1p((double)counts[i]);
            }
        }
    }
    /* input_tokens_estimate = max(1, ceil(input_chars / CHARS_PER_TOKEN)) */
    const long long tokens = r->input_chars / CHARS_PER_TOKEN + (r->input_chars % CHARS_PER_TOKEN > 0);
    ids[m] = base + D_LOG_TOKENS;
    vals[m++] = log1p((double)(tokens > 1 ? tokens : 1));
    if (r->user_turns > 1) {
        ids[m] = base + D_DEPTH;
        vals[m++] = log((double)r->user_turns);
    }
    if (r->max_tokens) {
        ids[m] = base + D_OUTPUT_ASK;
        vals[m++] = log1p((double)r->max_tokens);
    }
    return m;
}

/* ---- the rows ---- */

static inline uint32_t finish(uint64_t h, int shift)
{
    h ^= h >> 31;
    h *= H_M2;
    return (uint32_t)(h >> shift);
}

/* Rows [from, to) are one run: weight `w` each (float32, as numpy rounds the Python float). */
static void add_run(Request *r, Py_ssize_t from, Py_ssize_t to, float w)
{
    if (to > from) {
        for (Py_ssize_t i = from; r->vals != NULL && i < to; i++) {
            r->vals[i] = w;
        }
        r->run_end[r->n_runs] = to;
        r->run_weight[r->n_runs] = w;
        r->n_runs++;
    }
}

/* A stream's run of `to - from` rows: each weighs `weight / sqrt(to - from)`. */
static void weigh(Request *r, Py_ssize_t from, Py_ssize_t to, double weight)
{
    if (to > from) {
        add_run(r, from, to, (float)(weight / sqrt((double)(to - from))));
    }
}

static size_t align16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

/* Word hashes: sum(fold[j] * P**(j - first)) + length * GOLDEN (mod 2**64) of every run [bounds[2w],
   bounds[2w + 1]). Returns the number of words; *n_sys = those that start before `start`. */
static Py_ssize_t hash_words(const uint32_t *restrict bounds, Py_ssize_t n_words, const uint32_t *restrict fold,
                             const uint64_t *restrict pw, Py_ssize_t start, uint64_t *restrict words,
                             Py_ssize_t *n_sys)
{
    Py_ssize_t before = 0;
    for (Py_ssize_t w = 0; w < n_words; w++) {
        const Py_ssize_t first = bounds[2 * w], end = bounds[2 * w + 1];
        const uint32_t *f = fold + first;
        uint64_t h = 0;
        for (Py_ssize_t j = 0; j < end - first; j++) {
            h += (uint64_t)f[j] * pw[j];
        }
        words[w] = h + (uint64_t)(end - first) * H_GOLDEN;
        before += first < start;
    }
    *n_sys = before;
    return n_words;
}

/* Character n-grams of fold[a:b]: for every position, sum(fold[a + t] * P**t for t < order) of every order
   (one running sum, the shortest order first); out[q] is the next row of the q-th shortest order. */
static void hash_grams(const Scorer *s, const uint32_t *restrict fold, Py_ssize_t a, Py_ssize_t b, uint32_t **out,
                       int shift)
{
    const uint64_t *restrict pw = s->powers;
    const int n_q = s->n_by_length;
    int length[MAX_CHAR_ORDERS];
    uint64_t salt[MAX_CHAR_ORDERS];
    uint32_t *restrict cursor[MAX_CHAR_ORDERS];
    for (int q = 0; q < n_q; q++) {
        length[q] = s->char_orders[s->by_length[q]];
        salt[q] = SALT_CHAR * (uint64_t)(length[q] + 1);
        cursor[q] = out[q];
    }
    Py_ssize_t i = a;
    if (n_q == 2 && length[0] == 3 && length[1] == 4) { /* the shipped config, unrolled: 3 and 4-grams */
        const uint64_t p2 = H_P * H_P, p3 = H_P * H_P * H_P, salt3 = salt[0], salt4 = salt[1];
        uint32_t *restrict out3 = cursor[0], *restrict out4 = cursor[1];
        for (; i + 4 <= b; i++) {
            const uint32_t *f = fold + i;
            const uint64_t h3 = f[0] + (uint64_t)f[1] * H_P + (uint64_t)f[2] * p2;
            *out3++ = finish(h3 ^ salt3, shift);
            *out4++ = finish((h3 + (uint64_t)f[3] * p3) ^ salt4, shift);
        }
        cursor[0] = out3;
        cursor[1] = out4;
    }
    for (; i < b; i++) { /* any orders, and the last positions of the unrolled case */
        const Py_ssize_t avail = b - i;
        const uint32_t *f = fold + i;
        uint64_t h = f[0];
        int t = 1;
        for (int q = 0; q < n_q && length[q] <= avail; q++) {
            for (; t < length[q]; t++) {
                h += (uint64_t)f[t] * pw[t];
            }
            *cursor[q]++ = finish(h ^ salt[q], shift);
        }
    }
    for (int q = 0; q < n_q; q++) {
        out[q] = cursor[q];
    }
}

/* Featurize: fill the rows and runs of `r`, and the rows' values unless only scoring (the bag reads the
   runs). Runs without the GIL. Returns -1 when out of memory. */
static int featurize(const Scorer *s, Request *r, int scoring)
{
    const Py_ssize_t tail_len = r->p_len - r->tail_from;
    const Py_ssize_t plen = r->head_len + (r->joined ? 1 + tail_len : 0); /* the prompt window's length */
    const Py_ssize_t start = r->s_len ? r->s_len + 1 : 0;
    const Py_ssize_t n = start + plen;
    const Py_ssize_t char_span = s->char_head + s->char_tail;
    const Py_ssize_t max_words = n / 2 + 1;
    const Py_ssize_t max_rows =
        2 * max_words + (Py_ssize_t)s->n_char_orders * (plen < char_span ? plen : char_span) + MAX_DENSE_ROWS;

    const size_t words_size = align16((size_t)max_words * sizeof(uint64_t));
    const size_t fold_size = align16((size_t)n * sizeof(uint32_t));
    const size_t bounds_size = align16((size_t)(n + 1) * sizeof(uint32_t));
    const size_t ids_size = align16((size_t)max_rows * sizeof(uint32_t));
    const size_t vals_size = scoring ? 0 : align16((size_t)max_rows * sizeof(float));
    char *mem = PyMem_RawMalloc(words_size + fold_size + bounds_size + ids_size + vals_size);
    if (mem == NULL) {
        return -1;
    }
    r->mem = mem;
    uint64_t *words = (uint64_t *)mem;
    uint32_t *fold = (uint32_t *)(mem + words_size);
    Pass ps;
    memset(&ps, 0, sizeof ps);
    ps.bounds = (uint32_t *)(mem + words_size + fold_size);
    uint32_t *ids = (uint32_t *)(mem + words_size + fold_size + bounds_size);
    r->vals = scoring ? NULL : (float *)(mem + words_size + fold_size + bounds_size + ids_size);
    r->ids = ids;
    r->n_runs = 0;

    /* One pass over the text "system \n prompt-window": folds, word runs, and the prompt window's classes. */
    if (r->s_len) {
        fill(s, r->s_kind, r->s_data, 0, r->s_len, 0, fold, &ps, 0);
        fill(s, PyUnicode_1BYTE_KIND, NEWLINE, 0, 1, r->s_len, fold, &ps, 0);
    }
    fill(s, r->p_kind, r->p_data, 0, r->head_len, start, fold, &ps, 1);
    if (r->joined) {
        const Py_ssize_t at = start + r->head_len;
        fill(s, PyUnicode_1BYTE_KIND, NEWLINE, 0, 1, at, fold, &ps, 1);
        fill(s, r->p_kind, r->p_data, r->tail_from, tail_len, at + 1, fold, &ps, 1);
    }
    if (ps.in_word) { /* the last run ends with the text */
        ps.bounds[ps.n_bounds++] = (uint32_t)n;
    }

    /* Word unigrams and bigrams; the system's come first in each stream, with their own salt and weight.
       The "\n" after the system text is not a word character, so no word straddles `start`. */
    Py_ssize_t n_sys;
    const Py_ssize_t n_words = hash_words(ps.bounds, ps.n_bounds / 2, fold, s->powers, start, words, &n_sys);
    const int shift = 64 - s->hash_bits;
    Py_ssize_t m = 0;
    if (n_words && s->unigrams) {
        for (Py_ssize_t j = 0; j < n_sys; j++) {
            ids[m + j] = finish(words[j] ^ SALT_WORD1 ^ SALT_SYS1, shift);
        }
        for (Py_ssize_t j = n_sys; j < n_words; j++) {
            ids[m + j] = finish(words[j] ^ SALT_WORD1, shift);
        }
        weigh(r, m, m + n_sys, s->system_weight);
        weigh(r, m + n_sys, m + n_words, s->word_weight);
        m += n_words;
    }
    if (n_words > 1 && s->bigrams) {
        const Py_ssize_t n_bi = n_words - 1;
        const Py_ssize_t k = n_sys < n_bi ? n_sys : n_bi; /* the pair across the system's end is a system pair */
        for (Py_ssize_t j = 0; j < k; j++) {
            ids[m + j] = finish((words[j] * H_P + words[j + 1] * H_Q) ^ SALT_WORD2 ^ SALT_SYS2, shift);
        }
        for (Py_ssize_t j = k; j < n_bi; j++) {
            ids[m + j] = finish((words[j] * H_P + words[j + 1] * H_Q) ^ SALT_WORD2, shift);
        }
        weigh(r, m, m + k, s->system_weight);
        weigh(r, m + k, m + n_bi, s->word_weight);
        m += n_bi;
    }

    /* Character n-grams of the prompt window's head and tail (all of it when it is short); each order is
       one stream, in config order, of the head's n-grams then the tail's. */
    Py_ssize_t seg_a[2], seg_b[2];
    int n_seg = 1;
    seg_a[0] = start;
    seg_b[0] = n;
    if (plen > char_span) {
        n_seg = 2;
        seg_b[0] = start + s->char_head;
        seg_a[1] = n - s->char_tail;
        seg_b[1] = n;
    }
    uint32_t *out[MAX_CHAR_ORDERS];
    Py_ssize_t stream_start[MAX_CHAR_ORDERS];
    for (int o = 0; o < s->n_char_orders; o++) {
        Py_ssize_t count = 0;
        for (int g = 0; g < n_seg; g++) {
            const Py_ssize_t span = seg_b[g] - seg_a[g] - s->char_orders[o] + 1;
            count += span > 0 ? span : 0;
        }
        stream_start[o] = m;
        weigh(r, m, m + count, s->char_weight);
        m += count;
    }
    for (int q = 0; q < s->n_by_length; q++) {
        out[q] = ids + stream_start[s->by_length[q]];
    }
    for (int g = 0; g < n_seg; g++) {
        hash_grams(s, fold, seg_a[g], seg_b[g], out, shift);
    }

    uint32_t dense_ids[MAX_DENSE_ROWS];
    double dense_vals[MAX_DENSE_ROWS];
    const int n_dense = dense_rows(s, r, &ps, plen, dense_ids, dense_vals);
    const float dense_weight = (float)s->dense_weight;
    for (int i = 0; i < n_dense; i++) {
        float v = (float)dense_vals[i];
        if (s->dense_weight != 1.0) {
            v = v * dense_weight;
        }
        ids[m] = dense_ids[i];
        add_run(r, m, m + 1, v);
        m++;
    }
    r->n_rows = m;
    return 0;
}

/* ---- the embedding bag ---- */

static inline float half_to_float(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1Fu;
    const uint32_t mant = h & 0x3FFu;
    union {
        uint32_t u;
        float f;
    } out;
    if (exp == 0x1Fu) { /* inf, nan */
        out.u = sign | 0x7F800000u | (mant << 13);
    } else if (exp != 0) { /* normal */
        out.u = sign | ((exp + 112u) << 23) | (mant << 13);
    } else { /* zero, subnormal: mant * 2**-24, exact in float32 */
        out.f = (float)mant * 5.9604644775390625e-08f;
        out.u |= sign;
    }
    return out.f;
}

#if defined(__GNUC__) && !defined(__clang__)
#define UNROLL _Pragma("GCC unroll 16")
#elif defined(__clang__)
#define UNROLL _Pragma("clang loop unroll(full)")
#else
#define UNROLL
#endif

/* acc[0:W] += weight * sum(table[ids[i], 0:W] for i < n) for a float32 table of W columns (one function per
   width up to 16, so that a row is a few vector registers). Blocks of BLOCK_ROWS rows are summed in float32,
   in two interleaved sums (two independent chains of additions), then added in double. */
#define DEFINE_BAG_RUN(W)                                                                                    \
    static void bag_run_##W(const void *table, Py_ssize_t stride, Py_ssize_t width, const uint32_t *ids,    \
                            Py_ssize_t n, double weight, double *acc)                                        \
    {                                                                                                        \
        (void)stride;                                                                                        \
        (void)width;                                                                                         \
        const float *t = (const float *)table;                                                               \
        while (n > 0) {                                                                                      \
            const Py_ssize_t m = n < BLOCK_ROWS ? n : BLOCK_ROWS;                                            \
            float even[W] = {0}, odd[W] = {0};                                                               \
            Py_ssize_t i = 0;                                                                                \
            for (; i + 1 < m; i += 2) {                                                                      \
                const float *x = t + (size_t)ids[i] * W;                                                     \
                const float *y = t + (size_t)ids[i + 1] * W;                                                 \
                UNROLL for (int k = 0; k < W; k++)                                                           \
                {                                                                                            \
                    even[k] += x[k];                                                                         \
                    odd[k] += y[k];                                                                          \
                }                                                                                            \
            }                                                                                                \
            if (i < m) {                                                                                     \
                const float *x = t + (size_t)ids[i] * W;                                                     \
                UNROLL for (int k = 0; k < W; k++)                                                           \
                {                                                                                            \
                    even[k] += x[k];                                                                         \
                }                                                                                            \
            }                                                                                                \
            UNROLL for (int k = 0; k < W; k++)                                                               \
            {                                                                                                \
                acc[k] += weight * (double)(even[k] + odd[k]);                                               \
            }                                                                                                \
            ids += m;                                                                                        \
            n -= m;                                                                                          \
        }                                                                                                    \
    }
DEFINE_BAG_RUN(1)
DEFINE_BAG_RUN(2)
DEFINE_BAG_RUN(3)
DEFINE_BAG_RUN(4)
DEFINE_BAG_RUN(5)
DEFINE_BAG_RUN(6)
DEFINE_BAG_RUN(7)
DEFINE_BAG_RUN(8)
DEFINE_BAG_RUN(9)
DEFINE_BAG_RUN(10)
DEFINE_BAG_RUN(11)
DEFINE_BAG_RUN(12)
DEFINE_BAG_RUN(13)
DEFINE_BAG_RUN(14)
DEFINE_BAG_RUN(15)
DEFINE_BAG_RUN(16)

static bag_fn *const BAG_RUNS[17] = {
    NULL,       bag_run_1,  bag_run_2,  bag_run_3,  bag_run_4,  bag_run_5,  bag_run_6,  bag_run_7,  bag_run_8,
    bag_run_9,  bag_run_10, bag_run_11, bag_run_12, bag_run_13, bag_run_14, bag_run_15, bag_run_16,
};

/* The same for any stride and width, float32 (`bag_run_any`) or float16 (`bag_run_f16`, converted exactly),
   element by element, in the same order of additions: every kernel gives the same bits for the same values. */
#define DEFINE_BAG_RUN_ANY(NAME, T, LOAD)                                                                    \
    static void NAME(const void *table, Py_ssize_t stride, Py_ssize_t width, const uint32_t *ids,           \
                     Py_ssize_t n, double weight, double *acc)                                               \
    {                                                                                                        \
        const T *t = (const T *)table;                                                                       \
        float even[MAX_WIDTH], odd[MAX_WIDTH];                                                               \
        while (n > 0) {                                                                                      \
            const Py_ssize_t m = n < BLOCK_ROWS ? n : BLOCK_ROWS;                                            \
            for (Py_ssize_t k = 0; k < width; k++) {                                                         \
                even[k] = odd[k] = 0.0f;                                                                     \
            }                                                                                                \
            for (Py_ssize_t i = 0; i < m; i++) {                                                             \
                const T *x = t + (size_t)ids[i] * (size_t)stride;                                            \
                float *sum = (i & 1) ? odd : even;                                                           \
                for (Py_ssize_t k = 0; k < width; k++) {                                                     \
                    sum[k] += LOAD(x[k]);                                                                    \
                }                                                                                            \
            }                                                                                                \
            for (Py_ssize_t k = 0; k < width; k++) {                                                         \
                acc[k] += weight * (double)(even[k] + odd[k]);                                               \
            }                                                                                                \
            ids += m;                                                                                        \
            n -= m;                                                                                          \
        }                                                                                                    \
    }
#define LOAD_F32(x) (x)
DEFINE_BAG_RUN_ANY(bag_run_any, float, LOAD_F32)
DEFINE_BAG_RUN_ANY(bag_run_f16, uint16_t, half_to_float)

/* logits[k] = float32(sum_i vals[i] * table[ids[i], k] + bias[k]), run by run. Runs without the GIL. */
static void bag(const Scorer *s, const Request *r, double *logits)
{
    const Py_ssize_t width = s->width;
    double acc[MAX_WIDTH];
    for (Py_ssize_t k = 0; k < width; k++) {
        acc[k] = 0.0;
    }
    Py_ssize_t from = 0;
    for (int q = 0; q < r->n_runs; q++) {
        s->bag_run(s->table, s->stride, width, r->ids + from, r->run_end[q] - from, (double)r->run_weight[q], acc);
        from = r->run_end[q];
    }
    for (Py_ssize_t k = 0; k < width; k++) {
        logits[k] = (double)(float)(acc[k] + (double)s->bias[k]);
    }
}

/* ---- reading a RoutingInput (GIL held) ---- */

/* inp.<field> (a new reference): straight from the instance when it is of the __slots__ class given at
   construction (no attribute lookup: a dataclass(slots=True) keeps each field at a fixed offset), else
   through getattr. */
static PyObject *field(const Scorer *s, PyObject *inp, int k)
{
    if (s->input_type != NULL && Py_IS_TYPE(inp, s->input_type)) {
        PyObject *v = *(PyObject **)((char *)inp + s->offsets[k]);
        if (v != NULL) {
            Py_INCREF(v);
            return v;
        }
    }
    return PyObject_GetAttr(inp, s->names[k]);
}

static int get_ll(const Scorer *s, PyObject *inp, int k, long long *out)
{
    PyObject *v = field(s, inp, k);
    if (v == NULL) {
        return -1;
    }
    if (!PyLong_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int", FIELD_NAMES[k]);
        Py_DECREF(v);
        return -1;
    }
    *out = PyLong_AsLongLong(v); /* OverflowError beyond 64 bits */
    Py_DECREF(v);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

static int get_truth(const Scorer *s, PyObject *inp, int k, int *out)
{
    PyObject *v = field(s, inp, k);
    if (v == NULL) {
        return -1;
    }
    *out = PyObject_IsTrue(v);
    Py_DECREF(v);
    return *out < 0 ? -1 : 0;
}

static PyObject *get_str(const Scorer *s, PyObject *inp, int k)
{
    PyObject *v = field(s, inp, k);
    if (v == NULL) {
        return NULL;
    }
    if (!PyUnicode_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%s must be a str", FIELD_NAMES[k]);
        Py_DECREF(v);
        return NULL;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(v) < 0) {
        Py_DECREF(v);
        return NULL;
    }
#endif
    return v;
}

/* Fill `r` from `inp`; on success *prompt and *system hold references that keep the text alive while the
   GIL is released (another thread could replace the attributes meanwhile). */
static int read_input(const Scorer *s, PyObject *inp, Request *r, PyObject **prompt, PyObject **system)
{
    memset(r, 0, sizeof *r);
    *prompt = *system = NULL;
    long long max_tokens = 0;
    PyObject *mt = field(s, inp, F_MAX_TOKENS);
    if (mt == NULL) {
        return -1;
    }
    if (mt != Py_None) {
        if (!PyLong_Check(mt)) {
            PyErr_SetString(PyExc_TypeError, "max_tokens must be an int or None");
            Py_DECREF(mt);
            return -1;
        }
        max_tokens = PyLong_AsLongLong(mt);
        if (max_tokens == -1 && PyErr_Occurred()) {
            Py_DECREF(mt);
            return -1;
        }
    }
    Py_DECREF(mt);
    if (max_tokens <= -1) {
        PyErr_SetString(PyExc_ValueError, "max_tokens <= -1 has no log1p");
        return -1;
    }
    r->max_tokens = max_tokens;
    if (get_ll(s, inp, F_INPUT_CHARS, &r->input_chars) < 0 || get_ll(s, inp, F_USER_TURNS, &r->user_turns) < 0 ||
        get_truth(s, inp, F_HAS_TOOLS, &r->has_tools) < 0 || get_truth(s, inp, F_JSON_OUTPUT, &r->json_output) < 0) {
        return -1;
    }
    *prompt = get_str(s, inp, F_PROMPT);
    if (*prompt == NULL) {
        return -1;
    }
    *system = get_str(s, inp, F_SYSTEM);
    if (*system == NULL) {
        Py_CLEAR(*prompt);
        return -1;
    }
    const Py_ssize_t p_len = PyUnicode_GET_LENGTH(*prompt);
    const Py_ssize_t s_len = PyUnicode_GET_LENGTH(*system);
    r->p_kind = PyUnicode_KIND(*prompt);
    r->p_data = PyUnicode_DATA(*prompt);
    r->p_len = p_len;
    r->s_kind = PyUnicode_KIND(*system);
    r->s_data = PyUnicode_DATA(*system);
    r->s_len = s_len < s->max_system ? s_len : s->max_system;
    r->has_system = s_len > 0;
    /* window(prompt, head, tail): the whole text, or its head and tail joined by "\n", or its head only */
    if (p_len <= s->prompt_head + s->prompt_tail) {
        r->head_len = p_len;
        r->tail_from = p_len;
        r->joined = 0;
    } else {
        r->head_len = s->prompt_head;
        r->tail_from = p_len - s->prompt_tail;
        r->joined = s->prompt_tail > 0;
        if (!r->joined) {
            r->tail_from = p_len;
        }
    }
    return 0;
}

/* Featurize `inp` with the GIL released. Returns 0, or -1 with an exception set. */
static int run(const Scorer *s, PyObject *inp, Request *r, double *logits)
{
    PyObject *prompt, *system;
    if (read_input(s, inp, r, &prompt, &system) < 0) {
        return -1;
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = featurize(s, r, logits != NULL);
    if (rc == 0 && logits != NULL) {
        bag(s, r, logits);
    }
    Py_END_ALLOW_THREADS
    Py_DECREF(prompt);
    Py_DECREF(system);
    if (rc < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static PyObject *Scorer_features(PyObject *self, PyObject *inp)
{
    const Scorer *s = (const Scorer *)self;
    Request r;
    if (run(s, inp, &r, NULL) < 0) {
        return NULL;
    }
    PyObject *ids = PyBytes_FromStringAndSize(NULL, r.n_rows * (Py_ssize_t)sizeof(int64_t));
    PyObject *vals = PyBytes_FromStringAndSize((const char *)r.vals, r.n_rows * (Py_ssize_t)sizeof(float));
    if (ids != NULL) {
        char *out = PyBytes_AS_STRING(ids);
        for (Py_ssize_t i = 0; i < r.n_rows; i++) {
            int64_t id = (int64_t)r.ids[i];
            memcpy(out + i * (Py_ssize_t)sizeof id, &id, sizeof id);
        }
    }
    PyMem_RawFree(r.mem);
    if (ids == NULL || vals == NULL) {
        Py_XDECREF(ids);
        Py_XDECREF(vals);
        return NULL;
    }
    return Py_BuildValue("(NN)", ids, vals);
}

static PyObject *Scorer_score(PyObject *self, PyObject *inp)
{
    const Scorer *s = (const Scorer *)self;
    if (!s->have_table) {
        PyErr_SetString(PyExc_ValueError, "this Scorer has no table: features only");
        return NULL;
    }
    Request r;
    double logits[MAX_WIDTH];
    if (run(s, inp, &r, logits) < 0) {
        if (s->fallback != NULL &&
            (PyErr_ExceptionMatches(PyExc_TypeError) || PyErr_ExceptionMatches(PyExc_ValueError) ||
             PyErr_ExceptionMatches(PyExc_OverflowError))) {
            PyErr_Clear(); /* an input read_input does not reproduce exactly: the numpy path decides */
            return PyObject_CallOneArg(s->fallback, inp);
        }
        return NULL;
    }
    PyMem_RawFree(r.mem);
    /* softmax over the first K logits and sigmoid of the last, as EmbeddingBag.__call__ */
    const Py_ssize_t k = s->width - 1;
    const double strong = logits[k];
    double top = logits[0];
    for (Py_ssize_t i = 1; i < k; i++) {
        if (logits[i] > top) {
            top = logits[i];
        }
    }
    double total = 0.0;
    for (Py_ssize_t i = 0; i < k; i++) {
        logits[i] = exp(logits[i] - top);
        total += logits[i];
    }
    double p_strong;
    if (strong >= 0.0) {
        p_strong = 1.0 / (1.0 + exp(-strong));
    } else {
        const double e = exp(strong);
        p_strong = e / (1.0 + e);
    }
    PyObject *probs = PyList_New(k);
    if (probs == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < k; i++) {
        PyObject *p = PyFloat_FromDouble(logits[i] / total);
        if (p == NULL) {
            Py_DECREF(probs);
            return NULL;
        }
        PyList_SET_ITEM(probs, i, p);
    }
    return Py_BuildValue("(Nd)", probs, p_strong);
}

/* ---- construction ---- */

static const char *skip_byte_order(const char *format)
{
    if (format == NULL) {
        return "B";
    }
    if (*format == '<' || *format == '=' || *format == '@') {
        return format + 1;
    }
    return format;
}

/* Pin `obj` as a C-contiguous `ndim`-d buffer whose items are one of `formats` ("f4e2": float32 or float16). */
static int get_view(PyObject *obj, Py_buffer *view, int *have, const char *what, const char *formats, int ndim)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        return -1;
    }
    *have = 1;
    const char *format = skip_byte_order(view->format);
    int ok = 0;
    if (strlen(format) == 1 && view->ndim == ndim) {
        for (const char *f = formats; f[0] != '\0' && f[1] != '\0'; f += 2) {
            ok |= format[0] == f[0] && view->itemsize == f[1] - '0';
        }
    }
    if (!ok) {
        PyErr_Format(PyExc_ValueError, "%s: expected a C-contiguous %d-d buffer of one of '%s' (format, itemsize)",
                     what, ndim, formats);
        return -1;
    }
    return 0;
}

static void Scorer_dealloc(PyObject *self)
{
    Scorer *s = (Scorer *)self;
    PyObject_GC_UnTrack(self);
    if (s->have_cls) {
        PyBuffer_Release(&s->cls_view);
    }
    if (s->have_fold) {
        PyBuffer_Release(&s->fold_view);
    }
    if (s->have_table) {
        PyBuffer_Release(&s->table_view);
    }
    if (s->have_bias) {
        PyBuffer_Release(&s->bias_view);
    }
    PyMem_Free(s->powers);
    for (int k = 0; k < N_FIELDS; k++) {
        Py_XDECREF(s->names[k]);
    }
    Py_CLEAR(s->input_type);
    Py_CLEAR(s->fallback);
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static int Scorer_traverse(PyObject *self, visitproc visit, void *arg)
{
    Scorer *s = (Scorer *)self;
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(s->input_type);
    Py_VISIT(s->fallback);
    return 0;
}

static int Scorer_clear(PyObject *self)
{
    Scorer *s = (Scorer *)self;
    Py_CLEAR(s->input_type);
    Py_CLEAR(s->fallback);
    return 0;
}

static int read_params(Scorer *s, PyObject *params)
{
    PyObject *word_orders, *char_orders;
    if (!PyArg_ParseTuple(params, "iOOnnnnndddd:params", &s->hash_bits, &word_orders, &char_orders, &s->char_head,
                          &s->char_tail, &s->prompt_head, &s->prompt_tail, &s->max_system, &s->word_weight,
                          &s->char_weight, &s->system_weight, &s->dense_weight)) {
        return -1;
    }
    if (s->hash_bits < 1 || s->hash_bits > 31 || s->char_head < 0 || s->char_tail < 0 || s->prompt_head < 0 ||
        s->prompt_tail < 0 || s->max_system < 0 || s->prompt_head > (1 << 24) || s->prompt_tail > (1 << 24) ||
        s->max_system > (1 << 24) || s->char_head > (1 << 24) || s->char_tail > (1 << 24)) {
        PyErr_SetString(PyExc_ValueError, "params out of range");
        return -1;
    }
    PyObject *seq = PySequence_Fast(word_orders, "word_orders must be a sequence");
    if (seq == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        long order = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, i));
        if (order == 1) {
            s->unigrams = 1;
        } else if (order == 2) {
            s->bigrams = 1;
        } else {
            Py_DECREF(seq);
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_ValueError, "word orders must be 1 or 2");
            }
            return -1;
        }
    }
    Py_DECREF(seq);
    seq = PySequence_Fast(char_orders, "char_orders must be a sequence");
    if (seq == NULL) {
        return -1;
    }
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n > MAX_CHAR_ORDERS) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "too many char orders");
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        long order = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, i));
        if (order < 1 || order > MAX_ORDER) {
            Py_DECREF(seq);
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_ValueError, "char orders must be in [1, 8]");
            }
            return -1;
        }
        s->char_orders[i] = (int)order;
    }
    s->n_char_orders = (int)n;
    for (int length = 1; length <= MAX_ORDER; length++) { /* the orders by length: a stable sort */
        for (int i = 0; i < s->n_char_orders; i++) {
            if (s->char_orders[i] == length) {
                s->by_length[s->n_by_length++] = i;
            }
        }
    }
    Py_DECREF(seq);
    /* P**k for every k a word or n-gram can span: up to the longest text (and a margin) */
    const Py_ssize_t longest = s->max_system + 1 + s->prompt_head + s->prompt_tail + 1 + MAX_ORDER;
    s->powers = PyMem_Malloc((size_t)(longest + 1) * sizeof(uint64_t));
    if (s->powers == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    uint64_t power = 1;
    for (Py_ssize_t k = 0; k <= longest; k++) {
        s->powers[k] = power;
        power *= H_P;
    }
    return 0;
}

/* Where `type` keeps each field, if every one is a __slots__ member (else field() uses getattr). */
static int slot_offsets(Scorer *s, PyTypeObject *type)
{
    Py_ssize_t offsets[N_FIELDS];
    for (int k = 0; k < N_FIELDS; k++) {
        PyObject *d = PyObject_GetAttr((PyObject *)type, s->names[k]);
        if (d == NULL) {
            return -1;
        }
        const int slot = Py_IS_TYPE(d, &PyMemberDescr_Type) &&
                         ((PyMemberDescrObject *)d)->d_member->type == MEMBER_OBJECT_EX &&
                         ((PyMemberDescrObject *)d)->d_common.d_type == type;
        if (slot) {
            offsets[k] = ((PyMemberDescrObject *)d)->d_member->offset;
        }
        Py_DECREF(d);
        if (!slot) {
            return 0;
        }
    }
    memcpy(s->offsets, offsets, sizeof offsets);
    s->input_type = (PyTypeObject *)Py_NewRef(type);
    return 0;
}

static PyObject *Scorer_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"cls_table", "fold_table", "table", "bias", "params", "input_type", "fallback", NULL};
    PyObject *cls_obj, *fold_obj, *table_obj, *bias_obj, *params, *input_type = Py_None, *fallback = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOO!|OO:Scorer", kwlist, &cls_obj, &fold_obj, &table_obj,
                                     &bias_obj, &PyTuple_Type, &params, &input_type, &fallback)) {
        return NULL;
    }
    if (input_type != Py_None && !PyType_Check(input_type)) {
        PyErr_SetString(PyExc_TypeError, "input_type must be a class or None");
        return NULL;
    }
    if (fallback != Py_None && !PyCallable_Check(fallback)) {
        PyErr_SetString(PyExc_TypeError, "fallback must be callable or None");
        return NULL;
    }
    Scorer *s = (Scorer *)type->tp_alloc(type, 0);
    if (s == NULL) {
        return NULL;
    }
    PyObject *self = (PyObject *)s;
    if (read_params(s, params) < 0) {
        goto fail;
    }
    if (get_view(cls_obj, &s->cls_view, &s->have_cls, "cls_table", "B1", 1) < 0 ||
        get_view(fold_obj, &s->fold_view, &s->have_fold, "fold_table", "L8Q8", 1) < 0) {
        goto fail;
    }
    if (s->cls_view.shape[0] != BMP + 1 || s->fold_view.shape[0] != BMP + 1) {
        PyErr_SetString(PyExc_ValueError, "the class and fold tables must have 0x10001 entries");
        goto fail;
    }
    s->cls = (const uint8_t *)s->cls_view.buf;
    s->fold = (const uint64_t *)s->fold_view.buf;
    for (Py_ssize_t i = 0; i <= BMP; i++) {
        if (s->fold[i] > 0x10FFFF || s->cls[i] >= C_COUNT) {
            PyErr_SetString(PyExc_ValueError, "the tables hold a fold that is not a code point or an unknown class");
            goto fail;
        }
    }
    if (table_obj != Py_None || bias_obj != Py_None) {
        if (get_view(table_obj, &s->table_view, &s->have_table, "table", "f4e2", 2) < 0 ||
            get_view(bias_obj, &s->bias_view, &s->have_bias, "bias", "f4", 1) < 0) {
            goto fail;
        }
        s->table_f16 = s->table_view.itemsize == 2;
        s->table = (const char *)s->table_view.buf;
        s->rows = s->table_view.shape[0];
        s->stride = s->table_view.shape[1];
        s->width = s->bias_view.shape[0];
        s->bias = (const float *)s->bias_view.buf;
        if (s->width < 2 || s->width > MAX_WIDTH || s->width > s->stride) {
            PyErr_SetString(PyExc_ValueError, "bias must be [K+1] and table [D, >= K+1], 2 <= K+1 <= 256");
            goto fail;
        }
        if (s->table_f16) {
            s->bag_run = bag_run_f16;
        } else {
            s->bag_run = (s->stride == s->width && s->width <= 16) ? BAG_RUNS[s->width] : bag_run_any;
        }
        if (s->rows < ((Py_ssize_t)1 << s->hash_bits) + D_USED) {
            PyErr_SetString(PyExc_ValueError, "table has fewer rows than the feature id space");
            goto fail;
        }
    }
    for (int k = 0; k < N_FIELDS; k++) {
        s->names[k] = PyUnicode_InternFromString(FIELD_NAMES[k]);
        if (s->names[k] == NULL) {
            goto fail;
        }
    }
    if (input_type != Py_None && slot_offsets(s, (PyTypeObject *)input_type) < 0) {
        goto fail;
    }
    if (fallback != Py_None) {
        s->fallback = Py_NewRef(fallback);
    }
    return self; /* tracked by the GC since tp_alloc */
fail:
    Py_DECREF(self);
    return NULL;
}

static PyObject *Scorer_get_width(PyObject *self, void *Py_UNUSED(closure))
{
    return PyLong_FromSsize_t(((const Scorer *)self)->width);
}

static PyMethodDef Scorer_methods[] = {
    {"features", Scorer_features, METH_O,
     "features(inp) -> (ids, vals): the rows of Featurizer.featurize(inp) as bytes of int64 and float32."},
    {"score", Scorer_score, METH_O,
     "score(inp) -> (task_probs, p_strong): the embedding bag's softmax and sigmoid for one RoutingInput."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Scorer_getset[] = {
    {"width", Scorer_get_width, NULL, "K + 1: the number of logits (0 without a table)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot Scorer_slots[] = {
    {Py_tp_new, Scorer_new},
    {Py_tp_dealloc, Scorer_dealloc},
    {Py_tp_traverse, Scorer_traverse},
    {Py_tp_clear, Scorer_clear},
    {Py_tp_methods, Scorer_methods},
    {Py_tp_getset, Scorer_getset},
    {Py_tp_doc, "Scorer(cls_table, fold_table, table, bias, params, input_type=None, fallback=None): the featurizer "
                "and embedding bag in C (see the module source)."},
    {0, NULL},
};

static PyType_Spec Scorer_spec = {
    "triage.classifier._bag.Scorer",
    sizeof(Scorer),
    0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    Scorer_slots,
};

/* ---- module ---- */

static PyObject *int_tuple(const long long *values, int n)
{
    PyObject *t = PyTuple_New(n);
    if (t == NULL) {
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        PyObject *v = PyLong_FromLongLong(values[i]);
        if (v == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, v);
    }
    return t;
}

static PyObject *layout(void)
{
    static const long long classes[] = {C_LOWER, C_UPPER, C_DIGIT, C_UNDERSCORE, C_WORD,   C_CJK,    WORDLIKE_END,
                                        C_SPACE, C_NEWLINE, C_CODE, C_MATH,      C_PUNCT,  C_CONTROL, C_SYMBOL,
                                        C_COUNT};
    static const long long dense[] = {
        D_SIZE,          D_TURNS,           D_HAS_TOOLS,         D_JSON_OUTPUT,        D_HAS_SYSTEM,
        D_CODE_FENCE,    D_DIGIT_RATIO,     D_PUNCT_RATIO,       D_UPPER_RATIO,        D_NON_ASCII_RATIO,
        D_LINE_DENSITY,  D_CODE_SYMBOL_RATIO, D_MATH_SYMBOL_RATIO, D_ENDS_WITH_QUESTION, D_CJK_RATIO,
        D_LOG_TOKENS,    D_NUMBERS,         D_QUESTIONS,         D_LIST_ITEMS,         D_DEPTH,
        D_OUTPUT_ASK,    D_USED};
    static const long long unicode[] = {BMP, EMOJI_LO, EMOJI_HI, CHARS_PER_TOKEN};
    PyObject *hash = Py_BuildValue("(KKKKKKKKK)", (unsigned long long)H_P, (unsigned long long)H_Q,
                                   (unsigned long long)H_GOLDEN, (unsigned long long)H_M2,
                                   (unsigned long long)SALT_WORD1, (unsigned long long)SALT_WORD2,
                                   (unsigned long long)SALT_CHAR, (unsigned long long)SALT_SYS1,
                                   (unsigned long long)SALT_SYS2);
    PyObject *cls = int_tuple(classes, (int)(sizeof classes / sizeof classes[0]));
    PyObject *dns = int_tuple(dense, (int)(sizeof dense / sizeof dense[0]));
    PyObject *uni = int_tuple(unicode, (int)(sizeof unicode / sizeof unicode[0]));
    PyObject *size = int_tuple(SIZE_EDGES, N_SIZE_EDGES);
    PyObject *turn = int_tuple(TURN_EDGES, N_TURN_EDGES);
    PyObject *ratio = int_tuple(RATIO_ORDER, (int)(sizeof RATIO_ORDER / sizeof RATIO_ORDER[0]));
    PyObject *out = NULL;
    if (hash && cls && dns && uni && size && turn && ratio) {
        out = Py_BuildValue("{sOsOsOsOsOsOsO}", "hash", hash, "classes", cls, "dense", dns, "ratio_order", ratio,
                            "unicode", uni, "size_edges", size, "turn_edges", turn);
    }
    Py_XDECREF(ratio);
    Py_XDECREF(hash);
    Py_XDECREF(cls);
    Py_XDECREF(dns);
    Py_XDECREF(uni);
    Py_XDECREF(size);
    Py_XDECREF(turn);
    return out;
}

static int bag_exec(PyObject *module)
{
    PyObject *type = PyType_FromModuleAndSpec(module, &Scorer_spec, NULL);
    if (type == NULL) {
        return -1;
    }
    int rc = PyModule_AddObjectRef(module, "Scorer", type);
    Py_DECREF(type);
    if (rc < 0) {
        return -1;
    }
    PyObject *lay = layout();
    if (lay == NULL) {
        return -1;
    }
    rc = PyModule_AddObjectRef(module, "LAYOUT", lay);
    Py_DECREF(lay);
    return rc;
}

static PyModuleDef_Slot bag_slots[] = {
    {Py_mod_exec, (void *)bag_exec},
    {0, NULL},
};

static struct PyModuleDef bag_module = {
    PyModuleDef_HEAD_INIT,
    "_bag",
    "The classifier's featurizer and embedding bag in one call (see triage.classifier.native).",
    0,
    NULL,
    bag_slots,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__bag(void)
{
    return PyModuleDef_Init(&bag_module);
}
