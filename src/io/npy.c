/*
 * io/npy.c - NumPy .npy files: header parser and writer, mapped open/create.
 *
 * The format. A .npy file is
 *
 *   "\x93NUMPY" major minor  header-length  header  data
 *     6 bytes   1     1      2 bytes (1.0)   text   raw items, C or Fortran
 *                            4 bytes (2.0, 3.0)     order, no padding
 *
 * with the length little-endian. The header is the text of a Python dict
 * literal, e.g. {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }
 * padded with spaces and a final '\n'; NumPy pads so that the data starts
 * at a multiple of 64. Version 1.0 and 2.0 headers are latin-1, 3.0 UTF-8;
 * either way the parts ndpar reads are ASCII.
 *
 * The parser is hand-written, strict and bounded: a cursor over
 * [start, end) that never reads past end, no recursion, no allocation. It
 * takes what NumPy writes and the usual hand-written variants: the three
 * keys, each once, in any order, with whitespace and a trailing comma
 * wherever Python allows them; strings in '' or ""; shape a tuple of
 * decimal integers (with Python 2's "3L" in 1.0 and 2.0 headers). Python
 * syntax NumPy never writes (comments, "+3", "0x10", "1_000") is refused.
 * Malformed text is NDP_EFORMAT; a well-formed header whose dtype ndpar
 * does not handle (complex, strings, objects, structured) is NDP_ETYPE.
 * Format errors win over type errors: the whole dict is checked first.
 *
 * Invariants of a parsed header: 0 <= ndim <= NDP_MAXDIMS, every extent
 * >= 0, and itemsize times the product of the non-zero extents (so every
 * stride and the data size) is at most NPY_MAX_DATA = 2^62 bytes, which
 * also keeps data_offset + data size far from overflow. The writer checks
 * the same limit, so whatever ndp_npy_format_header writes, the parser
 * reads back.
 *
 * Files are mapped whole with mmap (MAP_SHARED; read-write when asked),
 * never read into memory, and the header is parsed in place. The file must
 * hold data_offset + data bytes; longer files are accepted. As with any
 * mapping, a file truncated by someone else while mapped raises SIGBUS on
 * access, and so does writing to a sparse file on a full disk.
 *
 * An open ndp_npy holds the descriptor and the mapping (map_ != NULL);
 * ndp_npy_close releases both and leaves the struct zeroed with fd_ = -1.
 * Close tests map_, not fd_, since a user's zeroed struct has fd_ = 0.
 * Nothing here allocates from the heap.
 *
 * Thread-safety: no global state; an ndp_npy is used by one thread at a
 * time.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64
#define NPY_MAX_DATA ((int64_t)1 << 62)
/* Room for the dict text ndpar writes (55 characters plus at most 21 per
 * extent) and for the whole header written around it. */
#define NPY_TEXT_MAX (64 + 24 * NDP_MAXDIMS)
#define NPY_HEADER_MAX (10 + NPY_TEXT_MAX + NPY_ALIGN)

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define NATIVE_ORDER '>'
#else
#define NATIVE_ORDER '<'
#endif

/* The descr code of each dtype, without the byte-order character. */
static const char *const type_code[NDP_NTYPES] = {
    "b1", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f4", "f8", "f2"};

/* ---- sizes ------------------------------------------------------------ */

/* Sets *nbytes to the data size. Returns -1 when itemsize times the
 * product of the non-zero extents (the largest stride an ndp_array over
 * this shape can need, and a bound on the data size) passes NPY_MAX_DATA. */
static int data_size(ndp_dtype dt, int ndim, const int64_t *shape,
                     int64_t *nbytes) {
  int64_t n = (int64_t)ndp_dtype_size(dt);
  int empty = 0;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] == 0)
      empty = 1;
    else if (ndp__mul_overflow(n, shape[d], &n) || n > NPY_MAX_DATA)
      return -1;
  }
  *nbytes = empty ? 0 : n;
  return 0;
}

static int64_t header_nbytes(const ndp_npy_header *h) {
  int64_t nbytes = 0;
  return data_size(h->dtype, h->ndim, h->shape, &nbytes) == 0 ? nbytes : -1;
}

/* ---- the header parser ----------------------------------------------- */

/* A bounded cursor over the header text; base is the file start, so that
 * messages give file offsets. */
typedef struct scan {
  const unsigned char *p, *end, *base;
  int allow_long; /* Python 2's "3L" (versions 1.0 and 2.0) */
  ndp_status *st;
} scan;

/* The descr value: a string, or the span of a list/tuple (structured). */
typedef struct descr_text {
  const unsigned char *s;
  size_t n;
  int composite;
} descr_text;

/* Key bits, in the order of the names in parse_dict. */
enum { KEY_DESCR = 1, KEY_FORTRAN = 2, KEY_SHAPE = 4 };

static size_t at(const scan *s) { return (size_t)(s->p - s->base); }

static int bad(scan *s, const char *what) {
  return ndp__fail(s->st, NDP_EFORMAT, "npy header: %s at byte %zu", what,
                   at(s));
}

static void skip_ws(scan *s) {
  while (s->p < s->end &&
         (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
    s->p++;
}

/* Skips whitespace, then consumes c if it comes next. */
static int eat(scan *s, unsigned char c) {
  skip_ws(s);
  if (s->p < s->end && *s->p == c) {
    s->p++;
    return 1;
  }
  return 0;
}

/* A Python string literal in '' or "" (no prefix); backslash escapes are
 * skipped over, not decoded. OUT: the text between the quotes. */
static int parse_string(scan *s, const unsigned char **str, size_t *len) {
  skip_ws(s);
  if (s->p >= s->end || (*s->p != '\'' && *s->p != '"'))
    return bad(s, "expected a quoted string");
  unsigned char q = *s->p++;
  const unsigned char *start = s->p;
  while (s->p < s->end && *s->p != q) {
    if (*s->p == '\n' || *s->p == '\r') break;
    if (*s->p == '\\' && s->p + 1 < s->end) s->p++;
    s->p++;
  }
  if (s->p >= s->end || *s->p != q) return bad(s, "unterminated string");
  *str = start;
  *len = (size_t)(s->p - start);
  s->p++;
  return 0;
}

static int is_word_char(unsigned char c) {
  return c == '_' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' &&
                                                (c | 0x20) <= 'z');
}

static int parse_bool(scan *s, int *out) {
  skip_ws(s);
  size_t left = (size_t)(s->end - s->p);
  if (left >= 4 && memcmp(s->p, "True", 4) == 0) {
    *out = 1;
    s->p += 4;
  } else if (left >= 5 && memcmp(s->p, "False", 5) == 0) {
    *out = 0;
    s->p += 5;
  } else {
    return bad(s, "'fortran_order' must be True or False");
  }
  if (s->p < s->end && is_word_char(*s->p))
    return bad(s, "'fortran_order' must be True or False");
  return 0;
}

/* One shape entry (index i): [-]digits, no leading zeros, [L]. */
static int parse_extent(scan *s, int i, int64_t *out) {
  int neg = eat(s, '-');
  int64_t v = 0;
  const unsigned char *start = s->p;
  int overflow = 0;
  if (s->p >= s->end || *s->p < '0' || *s->p > '9')
    return bad(s, "expected an integer in 'shape'");
  while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
    if (ndp__mul_overflow(v, 10, &v) ||
        __builtin_add_overflow(v, (int64_t)(*s->p - '0'), &v))
      overflow = 1;
    s->p++;
  }
  if (*start == '0' && s->p - start > 1)
    return bad(s, "integer with a leading zero in 'shape'");
  if (s->allow_long && s->p < s->end && (*s->p == 'L' || *s->p == 'l'))
    s->p++;
  if (neg && (overflow || v != 0))
    return ndp__fail(s->st, NDP_EFORMAT,
                     "npy header: 'shape' entry %d is negative", i);
  if (overflow)
    return ndp__fail(s->st, NDP_EFORMAT,
                     "npy header: 'shape' entry %d does not fit in 64 bits",
                     i);
  *out = v;
  return 0;
}

/* A tuple of extents: (), (n,), (n, m), (n, m,). */
static int parse_shape(scan *s, ndp_npy_header *h) {
  int rc;
  if (!eat(s, '(')) return bad(s, "'shape' must be a tuple");
  h->ndim = 0;
  if (eat(s, ')')) return 0;
  for (;;) {
    if (h->ndim == NDP_MAXDIMS)
      return ndp__fail(s->st, NDP_EFORMAT,
                       "npy header: 'shape' has more than %d dimensions",
                       NDP_MAXDIMS);
    if ((rc = parse_extent(s, h->ndim, &h->shape[h->ndim])) != 0) return rc;
    h->ndim++;
    if (eat(s, ')')) {
      if (h->ndim == 1) return bad(s, "'shape' (n) is not a tuple; want (n,)");
      return 0;
    }
    if (!eat(s, ',')) return bad(s, "expected ',' or ')' in 'shape'");
    if (eat(s, ')')) return 0;
  }
}

/* Skips a list or tuple (a structured descr) to its matching bracket,
 * stepping over strings; depth-limited, no recursion. */
static int skip_composite(scan *s) {
  char stack[64];
  int depth = 0;
  while (s->p < s->end) {
    unsigned char c = *s->p;
    if (c == '\'' || c == '"') {
      const unsigned char *str;
      size_t len;
      int rc = parse_string(s, &str, &len);
      if (rc != 0) return rc;
      continue;
    }
    if (c == '[' || c == '(' || c == '{') {
      if (depth == (int)sizeof stack) return bad(s, "descr nested too deeply");
      stack[depth++] = c == '[' ? ']' : c == '(' ? ')' : '}';
    } else if (c == ']' || c == ')' || c == '}') {
      if (depth == 0 || stack[depth - 1] != (char)c)
        return bad(s, "unbalanced brackets in descr");
      if (--depth == 0) {
        s->p++;
        return 0;
      }
    }
    s->p++;
  }
  return bad(s, "unterminated descr");
}

static int parse_descr(scan *s, descr_text *d) {
  skip_ws(s);
  if (s->p < s->end && (*s->p == '[' || *s->p == '(')) {
    d->s = s->p;
    d->composite = 1;
    int rc = skip_composite(s);
    d->n = (size_t)(s->p - d->s);
    return rc;
  }
  d->composite = 0;
  return parse_string(s, &d->s, &d->n);
}

static int is_order(unsigned char c) {
  return c == '<' || c == '>' || c == '=' || c == '|';
}

static int key_id(const unsigned char *k, size_t n) {
  if (n == 5 && memcmp(k, "descr", 5) == 0) return KEY_DESCR;
  if (n == 13 && memcmp(k, "fortran_order", 13) == 0) return KEY_FORTRAN;
  if (n == 5 && memcmp(k, "shape", 5) == 0) return KEY_SHAPE;
  return 0;
}

/* Copies text into out (cap >= 8) for a message: printable ASCII, with
 * anything else as '?' and long text cut with "...". */
static const char *printable(const unsigned char *t, size_t n, char *out,
                             size_t cap) {
  size_t keep = n < cap ? n : cap - 4;
  for (size_t i = 0; i < keep; i++)
    out[i] = (t[i] >= 0x20 && t[i] < 0x7f) ? (char)t[i] : '?';
  if (keep < n) {
    memcpy(out + keep, "...", 3);
    keep += 3;
  }
  out[keep] = '\0';
  return out;
}

static int parse_entry(scan *s, ndp_npy_header *h, descr_text *d,
                       int *seen) {
  const unsigned char *k;
  size_t n;
  char name[40];
  int rc;
  if ((rc = parse_string(s, &k, &n)) != 0) return rc;
  int id = key_id(k, n);
  if (id == 0)
    return ndp__fail(s->st, NDP_EFORMAT, "npy header: unexpected key '%s'",
                     printable(k, n, name, sizeof name));
  if (*seen & id)
    return ndp__fail(s->st, NDP_EFORMAT, "npy header: duplicate key '%s'",
                     printable(k, n, name, sizeof name));
  *seen |= id;
  if (!eat(s, ':')) return bad(s, "expected ':' after a key");
  if (id == KEY_DESCR) return parse_descr(s, d);
  if (id == KEY_FORTRAN) return parse_bool(s, &h->fortran_order);
  return parse_shape(s, h);
}

static int parse_dict(scan *s, ndp_npy_header *h, descr_text *d) {
  int seen = 0, rc;
  if (!eat(s, '{')) return bad(s, "expected '{'");
  if (!eat(s, '}')) {
    for (;;) {
      if ((rc = parse_entry(s, h, d, &seen)) != 0) return rc;
      if (eat(s, '}')) break;
      if (!eat(s, ',')) return bad(s, "expected ',' or '}'");
      if (eat(s, '}')) break;
    }
  }
  skip_ws(s);
  if (s->p != s->end) return bad(s, "unexpected text after the dict");
  static const char *const names[] = {"descr", "fortran_order", "shape"};
  for (int i = 0; i < 3; i++)
    if (!(seen & (1 << i)))
      return ndp__fail(s->st, NDP_EFORMAT, "npy header: missing key '%s'",
                       names[i]);
  return 0;
}

/* Maps the descr text to a dtype: [<>=|] then a code ndp_dtype_from_name
 * knows ("f8", "i4", "b1", "?", "float64", ...). */
static int resolve_descr(const descr_text *d, ndp_npy_header *h,
                         ndp_status *st) {
  char show[48], code[24];
  ndp_dtype dt = NDP_NTYPES;
  const unsigned char *t = d->s;
  size_t n = d->n;
  char order = '=';
  if (!d->composite && n > 0 && is_order(t[0])) {
    order = (char)t[0];
    t++;
    n--;
  }
  if (!d->composite && n > 0 && n < sizeof code && !memchr(t, '\0', n) &&
      !is_order(t[0])) {
    memcpy(code, t, n);
    code[n] = '\0';
    dt = ndp_dtype_from_name(code);
  }
  if (dt == NDP_NTYPES)
    return ndp__fail(st, NDP_ETYPE,
                     "npy header: dtype %s%s%s is not supported (ndpar "
                     "reads bool, [u]int8..64, float16, float32, float64)",
                     d->composite ? "" : "'",
                     printable(d->s, d->n, show, sizeof show),
                     d->composite ? "" : "'");
  h->dtype = dt;
  h->byteswapped = ndp_dtype_size(dt) > 1 && (order == '<' || order == '>') &&
                   order != NATIVE_ORDER;
  return 0;
}

static uint32_t read_le(const unsigned char *p, int n) {
  uint32_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

/* Checks magic and version; OUT: *prefix, the bytes before the text. */
static int parse_prefix(const unsigned char *b, size_t len,
                        ndp_npy_header *h, size_t *prefix, ndp_status *st) {
  if (len < 10)
    return ndp__fail(st, NDP_EFORMAT,
                     "npy header: too short (%zu bytes) for a .npy file", len);
  if (memcmp(b, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
    return ndp__fail(st, NDP_EFORMAT,
                     "npy header: not a .npy file (bad magic string)");
  h->major = b[6];
  h->minor = b[7];
  if (h->major < 1 || h->major > 3 || h->minor != 0)
    return ndp__fail(st, NDP_EFORMAT,
                     "npy header: unsupported format version %d.%d", h->major,
                     h->minor);
  int lenfield = h->major == 1 ? 2 : 4;
  if (len < (size_t)(8 + lenfield))
    return ndp__fail(st, NDP_EFORMAT,
                     "npy header: too short (%zu bytes) for a version %d.0 "
                     "header", len, h->major);
  size_t hlen = read_le(b + 8, lenfield);
  *prefix = (size_t)(8 + lenfield);
  if (hlen > len - *prefix)
    return ndp__fail(st, NDP_EFORMAT,
                     "npy header: header length %zu exceeds the %zu bytes "
                     "available", hlen, len - *prefix);
  h->data_offset = *prefix + hlen;
  return 0;
}

static int parse_all(const unsigned char *b, size_t len, ndp_npy_header *h,
                     ndp_status *st) {
  size_t prefix = 0;
  descr_text d = {0};
  int rc = parse_prefix(b, len, h, &prefix, st);
  if (rc != 0) return rc;
  scan s = {b + prefix, b + h->data_offset, b, h->major < 3, st};
  if ((rc = parse_dict(&s, h, &d)) != 0) return rc;
  if ((rc = resolve_descr(&d, h, st)) != 0) return rc;
  if (header_nbytes(h) < 0)
    return ndp__fail(st, NDP_EFORMAT,
                     "npy header: 'shape' too large (data over 2^62 bytes)");
  return 0;
}

int ndp_npy_parse_header(const void *buf, size_t len, ndp_npy_header *hdr,
                         ndp_status *st) {
  if (!hdr || (!buf && len > 0))
    return ndp__fail(st, NDP_EINVAL, "ndp_npy_parse_header: %s is NULL",
                     hdr ? "buf" : "hdr");
  memset(hdr, 0, sizeof *hdr);
  int rc = parse_all(buf, len, hdr, st);
  if (rc != 0) {
    memset(hdr, 0, sizeof *hdr);
    return rc;
  }
  ndp__ok(st);
  return 0;
}

/* ---- the header writer ----------------------------------------------- */

/* Appends formatted text at *n; returns -1 once out of room. */
static int append(char *out, size_t cap, size_t *n, const char *fmt, ...)
    NDP__PRINTF(4, 5);
static int append(char *out, size_t cap, size_t *n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int w = *n < cap ? vsnprintf(out + *n, cap - *n, fmt, ap) : -1;
  va_end(ap);
  if (w < 0 || (size_t)w >= cap - *n) return -1;
  *n += (size_t)w;
  return 0;
}

/* The dict text, without padding, as NumPy writes it. Returns its length,
 * or 0 if it does not fit in cap (it fits in NPY_TEXT_MAX). */
static size_t dict_text(char *out, size_t cap, ndp_dtype dt, int fortran,
                        int ndim, const int64_t *shape) {
  size_t n = 0;
  int rc = append(out, cap, &n,
                  "{'descr': '%c%s', 'fortran_order': %s, 'shape': (",
                  ndp_dtype_size(dt) == 1 ? '|' : NATIVE_ORDER, type_code[dt],
                  fortran ? "True" : "False");
  for (int d = 0; d < ndim && rc == 0; d++)
    rc = append(out, cap, &n, "%s%lld", d ? ", " : "", (long long)shape[d]);
  if (rc == 0) rc = append(out, cap, &n, "%s), }", ndim == 1 ? "," : "");
  return rc == 0 ? n : 0;
}

static int check_array_args(const char *fn, ndp_dtype dt, int ndim,
                            const int64_t *shape, ndp_status *st) {
  if ((unsigned)dt >= NDP_NTYPES)
    return ndp__fail(st, NDP_EINVAL, "%s: invalid dtype %d", fn, (int)dt);
  if (ndim < 0 || ndim > NDP_MAXDIMS)
    return ndp__fail(st, NDP_EINVAL, "%s: ndim %d is outside 0..%d", fn, ndim,
                     NDP_MAXDIMS);
  if (ndim > 0 && !shape)
    return ndp__fail(st, NDP_EINVAL, "%s: shape is NULL", fn);
  for (int d = 0; d < ndim; d++)
    if (shape[d] < 0)
      return ndp__fail(st, NDP_EINVAL, "%s: shape[%d] is negative (%lld)", fn,
                       d, (long long)shape[d]);
  int64_t nbytes = 0;
  if (data_size(dt, ndim, shape, &nbytes) != 0)
    return ndp__fail(st, NDP_EOVERFLOW,
                     "%s: shape too large (data over 2^62 bytes)", fn);
  return 0;
}

int ndp_npy_format_header(ndp_dtype dt, int fortran_order, int ndim,
                          const int64_t *shape, void *buf, size_t cap,
                          size_t *written, ndp_status *st) {
  static const char fn[] = "ndp_npy_format_header";
  char text[NPY_TEXT_MAX];
  int rc = check_array_args(fn, dt, ndim, shape, st);
  if (rc != 0) return rc;
  if (!written || (!buf && cap > 0))
    return ndp__fail(st, NDP_EINVAL, "%s: %s is NULL", fn,
                     written ? "buf" : "written");
  *written = 0;
  size_t n = dict_text(text, sizeof text, dt, fortran_order, ndim, shape);
  if (n == 0) return ndp__fail(st, NDP_EOVERFLOW, "%s: header too long", fn);
  /* prefix + text + spaces + '\n' is a multiple of NPY_ALIGN. The text
   * is short, so version 1.0 (a 2-byte length) always suffices and the
   * contract's 2.0 fallback is never needed. */
  _Static_assert(NPY_HEADER_MAX <= 0xffff, "a 1.0 header always fits");
  const size_t prefix = 10;
  size_t total = (prefix + n + 1 + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
  if (total > cap)
    return ndp__fail(st, NDP_EOVERFLOW,
                     "%s: the header needs %zu bytes, the buffer holds %zu",
                     fn, total, cap);
  unsigned char *b = buf;
  size_t hlen = total - prefix;
  memcpy(b, NPY_MAGIC, NPY_MAGIC_LEN);
  b[6] = 1;
  b[7] = 0;
  b[8] = (unsigned char)(hlen & 0xff);
  b[9] = (unsigned char)(hlen >> 8);
  memcpy(b + prefix, text, n);
  memset(b + prefix + n, ' ', total - prefix - n - 1);
  b[total - 1] = '\n';
  *written = total;
  ndp__ok(st);
  return 0;
}

/* ---- mapped files ------------------------------------------------------ */

static void reset(ndp_npy *f) {
  memset(f, 0, sizeof *f);
  f->fd_ = -1;
}

/* Fills f->arr over the mapping, with strides for the file's order. */
static void describe(ndp_npy *f) {
  const ndp_npy_header *h = &f->hdr;
  ndp_array *a = &f->arr;
  int64_t stride = (int64_t)ndp_dtype_size(h->dtype);
  memset(a, 0, sizeof *a);
  a->data = (char *)f->map_ + h->data_offset;
  a->dtype = h->dtype;
  a->ndim = h->ndim;
  a->flags = h->byteswapped ? NDP_ARRAY_BYTESWAPPED : 0;
  for (int k = 0; k < h->ndim; k++) {
    int d = h->fortran_order ? k : h->ndim - 1 - k;
    a->shape[d] = h->shape[d];
    a->strides[d] = stride;
    if (h->shape[d] > 0) stride *= h->shape[d]; /* <= 2^62, checked */
  }
}

/* Rewrites st's message as "path: message". */
static int with_path(ndp_status *st, int rc, const char *path) {
  if (st) {
    char msg[sizeof st->msg];
    memcpy(msg, st->msg, sizeof msg);
    ndp__fail(st, rc, "'%s': %s", path, msg);
  }
  return rc;
}

static int sys_fail(ndp_status *st, const char *what, const char *path) {
  int e = errno;
  return ndp__fail(st, e == ENOMEM ? NDP_ENOMEM : NDP_EIO, "%s '%s': %s",
                   what, path, strerror(e));
}

/* Maps the open file fd (size bytes), parses the header and describes the
 * data. On success f owns fd; on failure fd is left to the caller. */
static int map_file(ndp_npy *f, int fd, const char *path, int writable,
                    ndp_status *st) {
  struct stat sb;
  if (fstat(fd, &sb) != 0) return sys_fail(st, "cannot stat", path);
  if (!S_ISREG(sb.st_mode))
    return ndp__fail(st, NDP_EIO, "'%s' is not a regular file", path);
  if (sb.st_size < 10 || (uint64_t)sb.st_size > SIZE_MAX)
    return ndp__fail(st, NDP_EFORMAT,
                     "'%s' is too short (%lld bytes) to be a .npy file", path,
                     (long long)sb.st_size);
  size_t size = (size_t)sb.st_size;
  int prot = writable ? PROT_READ | PROT_WRITE : PROT_READ;
  void *map = mmap(NULL, size, prot, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) return sys_fail(st, "cannot map", path);
  int rc = ndp_npy_parse_header(map, size, &f->hdr, st);
  if (rc != 0) {
    munmap(map, size);
    return with_path(st, rc, path);
  }
  int64_t need = header_nbytes(&f->hdr);
  int64_t have = (int64_t)(size - f->hdr.data_offset);
  if (have < need) {
    munmap(map, size);
    return ndp__fail(st, NDP_EFORMAT,
                     "'%s': file truncated: expected %lld bytes of data, "
                     "found %lld", path, (long long)need, (long long)have);
  }
  f->fd_ = fd;
  f->map_ = map;
  f->map_len_ = size;
  f->writable = writable ? 1 : 0;
  describe(f);
  return 0;
}

int ndp_npy_open(const char *path, int writable, ndp_npy *f, ndp_status *st) {
  if (!f || !path)
    return ndp__fail(st, NDP_EINVAL, "ndp_npy_open: %s is NULL",
                     f ? "path" : "f");
  reset(f);
  int fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return sys_fail(st, "cannot open", path);
  int rc = map_file(f, fd, path, writable, st);
  if (rc != 0) goto fail;
  ndp__ok(st);
  return 0;
fail:
  close(fd);
  reset(f);
  return rc;
}

static int write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w == 0) errno = EIO; /* no progress and no reason given */
    if (w <= 0) return -1;
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

/* On failure after the file was opened, the file is left behind (already
 * truncated, perhaps with a header); it is not unlinked. */
int ndp_npy_create(const char *path, ndp_dtype dt, int fortran_order,
                   int ndim, const int64_t *shape, ndp_npy *f,
                   ndp_status *st) {
  unsigned char head[NPY_HEADER_MAX];
  size_t hlen;
  int64_t nbytes = 0;
  int fd = -1, rc;
  if (!f || !path)
    return ndp__fail(st, NDP_EINVAL, "ndp_npy_create: %s is NULL",
                     f ? "path" : "f");
  reset(f);
  if ((rc = check_array_args("ndp_npy_create", dt, ndim, shape, st)) != 0)
    return rc;
  rc = ndp_npy_format_header(dt, fortran_order, ndim, shape, head,
                             sizeof head, &hlen, st);
  if (rc != 0) return rc;
  (void)data_size(dt, ndim, shape, &nbytes); /* checked just above */
  fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return sys_fail(st, "cannot create", path);
  if (write_all(fd, head, hlen) != 0) {
    rc = sys_fail(st, "cannot write", path);
    goto fail;
  }
  if (ftruncate(fd, (off_t)hlen + (off_t)nbytes) != 0) {
    rc = sys_fail(st, "cannot size", path);
    goto fail;
  }
  /* Reserve the blocks now where the file system can (extents, no zero
   * writing), so a full disk is an error here rather than SIGBUS while
   * writing through the mapping. Where fallocate is not supported the
   * file stays sparse. */
  if (nbytes > 0 && fallocate(fd, 0, (off_t)hlen, (off_t)nbytes) != 0 &&
      (errno == ENOSPC || errno == EFBIG)) {
    rc = sys_fail(st, "no space for the output", path);
    goto fail;
  }
  if ((rc = map_file(f, fd, path, 1, st)) != 0) goto fail;
  ndp__ok(st);
  return 0;
fail:
  close(fd);
  reset(f);
  return rc;
}

int ndp_npy_close(ndp_npy *f, ndp_status *st) {
  int rc = 0;
  if (f && f->map_) {
    if (f->writable && msync(f->map_, f->map_len_, MS_SYNC) != 0)
      rc = ndp__fail(st, NDP_EIO, "ndp_npy_close: msync failed: %s",
                     strerror(errno));
    munmap(f->map_, f->map_len_);
    if (f->fd_ >= 0 && close(f->fd_) != 0 && rc == 0)
      rc = ndp__fail(st, NDP_EIO, "ndp_npy_close: close failed: %s",
                     strerror(errno));
  }
  if (f) reset(f);
  if (rc == 0) ndp__ok(st);
  return rc;
}
