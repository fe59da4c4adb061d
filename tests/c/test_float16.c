/*
 * tests/c/test_float16.c - float16 (IEEE binary16) through the C API:
 * casts to and from every dtype for all 65536 bit patterns against an
 * independent reference (the value from its fields with ldexp; rounding by
 * searching the sorted table of float16 values, ties to even), the float16
 * loops at every instruction set the CPU has (results must be the float32
 * result rounded to float16), NumPy's casting table and promotion for
 * float16, NEP 50 scalars, moving windows and .npy headers. The comparison
 * with NumPy itself is tests/python/test_float16.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ndpar.h"

enum { NH = 65536 };

/* The value of a float16 from its fields (independent of core/half.h). */
static double ref_value(uint16_t h) {
  int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
  return s ? -v : v;
}

/* The finite non-negative float16 values in increasing order: bits 0..0x7bff. */
static uint16_t ref_round(double x) {
  if (isnan(x)) return 0x7e00;
  uint16_t sign = signbit(x) ? 0x8000 : 0;
  double a = fabs(x);
  if (a >= 65520.0) return sign | 0x7c00;
  uint16_t lo = 0, hi = 0x7bff; /* largest lo with value(lo) <= a */
  while (lo < hi) {
    uint16_t mid = (uint16_t)((lo + hi + 1) / 2);
    if (ref_value(mid) <= a) lo = mid;
    else hi = (uint16_t)(mid - 1);
  }
  if (lo == 0x7bff) return sign | (a > 65504.0 ? (a - 65504.0 < 65536.0 - a ? 0x7bff : 0x7c00) : 0x7bff);
  double dl = a - ref_value(lo), du = ref_value((uint16_t)(lo + 1)) - a;
  uint16_t r = dl < du ? lo : du < dl ? (uint16_t)(lo + 1) : (lo & 1) ? (uint16_t)(lo + 1) : lo;
  return sign | r;
}

static void vec(ndp_array *a, void *data, ndp_dtype dt, int64_t n) {
  assert_int_equal(ndp_array_init(a, data, dt, 1, &n), 0);
}

static int copy(void *src, ndp_dtype sd, void *dst, ndp_dtype dd, int64_t n) {
  ndp_array a, b;
  vec(&a, src, sd, n);
  vec(&b, dst, dd, n);
  ndp_status st;
  return ndp_copy(&a, &b, NDP_CASTING_UNSAFE, NULL, &st);
}

static uint16_t *all_halves(void) {
  uint16_t *h = malloc(NH * sizeof *h);
  for (int i = 0; i < NH; i++) h[i] = (uint16_t)i;
  return h;
}

static void test_dtype_basics(void **state) {
  (void)state;
  assert_int_equal(ndp_dtype_size(NDP_FLOAT16), 2);
  assert_string_equal(ndp_dtype_name(NDP_FLOAT16), "float16");
  const char *names[] = {"float16", "f2", "<f2", "=f2", "e", "half"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    assert_int_equal(ndp_dtype_from_name(names[i]), NDP_FLOAT16);
  /* NumPy's type-list order '?bBhHiIqQefd' */
  const ndp_dtype order[] = {NDP_BOOL,   NDP_INT8,    NDP_UINT8,   NDP_INT16,
                             NDP_UINT16, NDP_INT32,   NDP_UINT32,  NDP_INT64,
                             NDP_UINT64, NDP_FLOAT16, NDP_FLOAT32, NDP_FLOAT64};
  for (int i = 0; i < NDP_NTYPES; i++) assert_int_equal(ndp_dtype_order(i), order[i]);
  assert_int_equal(ndp_dtype_order(NDP_NTYPES), NDP_NTYPES);
  assert_int_equal(ndp_dtype_order(-1), NDP_NTYPES);
}

/* np.can_cast(x, float16) and back (numpy 2.4), every dtype. */
static void test_can_cast(void **state) {
  (void)state;
  for (int t = 0; t < NDP_NTYPES; t++) {
    const int to16 = t == NDP_BOOL || t == NDP_INT8 || t == NDP_UINT8 || t == NDP_FLOAT16;
    const int from16 = t == NDP_FLOAT16 || t == NDP_FLOAT32 || t == NDP_FLOAT64;
    assert_int_equal(ndp_can_cast((ndp_dtype)t, NDP_FLOAT16, NDP_CASTING_SAFE), to16);
    assert_int_equal(ndp_can_cast(NDP_FLOAT16, (ndp_dtype)t, NDP_CASTING_SAFE), from16);
    /* same_kind: anything but a float to bool/int reaches float16 */
    assert_int_equal(ndp_can_cast((ndp_dtype)t, NDP_FLOAT16, NDP_CASTING_SAME_KIND), 1);
    assert_int_equal(ndp_can_cast(NDP_FLOAT16, (ndp_dtype)t, NDP_CASTING_SAME_KIND), from16);
    assert_int_equal(ndp_can_cast(NDP_FLOAT16, (ndp_dtype)t, NDP_CASTING_UNSAFE), 1);
    assert_int_equal(ndp_can_cast(NDP_FLOAT16, (ndp_dtype)t, NDP_CASTING_NO), t == NDP_FLOAT16);
  }
  /* np.result_type */
  assert_int_equal(ndp_promote(NDP_INT8, NDP_FLOAT16), NDP_FLOAT16);
  assert_int_equal(ndp_promote(NDP_UINT8, NDP_FLOAT16), NDP_FLOAT16);
  assert_int_equal(ndp_promote(NDP_BOOL, NDP_FLOAT16), NDP_FLOAT16);
  assert_int_equal(ndp_promote(NDP_INT16, NDP_FLOAT16), NDP_FLOAT32);
  assert_int_equal(ndp_promote(NDP_UINT16, NDP_FLOAT16), NDP_FLOAT32);
  assert_int_equal(ndp_promote(NDP_INT32, NDP_FLOAT16), NDP_FLOAT64);
  assert_int_equal(ndp_promote(NDP_FLOAT16, NDP_FLOAT32), NDP_FLOAT32);
  assert_int_equal(ndp_promote(NDP_FLOAT16, NDP_FLOAT16), NDP_FLOAT16);
  /* the old values are unchanged */
  assert_int_equal(ndp_promote(NDP_INT8, NDP_UINT8), NDP_INT16);
  assert_int_equal(ndp_promote(NDP_INT64, NDP_UINT64), NDP_FLOAT64);
}

/* float16 -> float32/float64 exactly, and back, for every pattern. */
static void widen_all_patterns(void) {
  uint16_t *h = all_halves(), *back = malloc(NH * 2);
  float *f = malloc(NH * sizeof *f);
  double *d = malloc(NH * sizeof *d);
  assert_int_equal(copy(h, NDP_FLOAT16, f, NDP_FLOAT32, NH), 0);
  assert_int_equal(copy(h, NDP_FLOAT16, d, NDP_FLOAT64, NH), 0);
  for (int i = 0; i < NH; i++) {
    double want = ref_value((uint16_t)i);
    if (isnan(want)) {
      /* the payload kept, not quieted (NumPy converts in software) */
      uint32_t fb;
      uint64_t db;
      memcpy(&fb, &f[i], 4);
      memcpy(&db, &d[i], 8);
      assert_int_equal(fb, ((uint32_t)(i & 0x8000) << 16) | 0x7f800000u | ((uint32_t)(i & 1023) << 13));
      assert_true(db == (((uint64_t)(i & 0x8000) << 48) | 0x7ff0000000000000ull |
                         ((uint64_t)(i & 1023) << 42)));
    } else {
      assert_true((double)f[i] == want && d[i] == want && !signbit(f[i]) == !(i & 0x8000));
    }
  }
  assert_int_equal(copy(f, NDP_FLOAT32, back, NDP_FLOAT16, NH), 0);
  assert_memory_equal(back, h, NH * 2);
  assert_int_equal(copy(d, NDP_FLOAT64, back, NDP_FLOAT16, NH), 0);
  assert_memory_equal(back, h, NH * 2);
  free(h), free(back), free(f), free(d);
}

/* float32/float64 -> float16 rounds to nearest even: every midpoint of
 * two neighbours and points just around it, overflow, subnormals. */
static void narrow_rounding(void) {
  enum { K = 7 };
  const int n = 0x7c00 * K * 2;
  double *d = malloc((size_t)n * sizeof *d);
  float *f = malloc((size_t)n * sizeof *f);
  uint16_t *got = malloc((size_t)n * 2), *got32 = malloc((size_t)n * 2);
  int m = 0;
  for (int i = 0; i < 0x7c00; i++) {
    double lo = ref_value((uint16_t)i), hi = i < 0x7bff ? ref_value((uint16_t)(i + 1)) : 65536.0;
    double mid = (lo + hi) / 2;
    double pts[K] = {lo, mid, nextafter(mid, 0), nextafter(mid, INFINITY),
                     (double)nextafterf((float)mid, 0), (double)nextafterf((float)mid, INFINITY),
                     lo + (hi - lo) * 0.3};
    for (int k = 0; k < K; k++) {
      d[m] = pts[k];
      d[m + 1] = -pts[k];
      m += 2;
    }
  }
  for (int i = 0; i < m; i++) f[i] = (float)d[i];
  assert_int_equal(copy(d, NDP_FLOAT64, got, NDP_FLOAT16, m), 0);
  assert_int_equal(copy(f, NDP_FLOAT32, got32, NDP_FLOAT16, m), 0);
  for (int i = 0; i < m; i++) {
    if (got[i] != ref_round(d[i])) print_message("f64 %.17g -> %04x, want %04x\n", d[i], got[i], ref_round(d[i]));
    assert_int_equal(got[i], ref_round(d[i]));
    assert_int_equal(got32[i], ref_round((double)f[i]));
  }
  /* edges */
  const double e[] = {65504.0, 65519.99, 65520.0, 1e6, INFINITY, 0x1p-24, 0x1p-25,
                      nextafter(0x1p-25, 1), 0x1p-26, 0x1.8p-24, 0x1p-14, 5e-324, 0.0, -0.0};
  const uint16_t want[] = {0x7bff, 0x7bff, 0x7c00, 0x7c00, 0x7c00, 1, 0, 1, 0, 2, 0x400, 0, 0, 0x8000};
  uint16_t g[sizeof e / sizeof *e];
  float ef[sizeof e / sizeof *e];
  for (size_t i = 0; i < sizeof e / sizeof *e; i++) ef[i] = (float)e[i];
  assert_int_equal(copy((void *)e, NDP_FLOAT64, g, NDP_FLOAT16, sizeof e / sizeof *e), 0);
  for (size_t i = 0; i < sizeof e / sizeof *e; i++) assert_int_equal(g[i], want[i]);
  assert_int_equal(copy(ef, NDP_FLOAT32, g, NDP_FLOAT16, sizeof e / sizeof *e), 0);
  for (size_t i = 0; i < sizeof e / sizeof *e; i++)
    if ((double)ef[i] == e[i]) assert_int_equal(g[i], want[i]); /* float32 holds it */
  free(d), free(f), free(got), free(got32);
}

/* at every ISA: the avx2+ casts use F16C, NaN and inf blocks portably */
static void test_widen_all_patterns(void **state) {
  (void)state;
  ndp_isa cpu = ndp_cpu_isa();
  for (int isa = 0; isa <= (int)cpu; isa++) {
    assert_int_equal(ndp_set_isa((ndp_isa)isa), 0);
    widen_all_patterns();
  }
  ndp_set_isa(cpu);
}
static void test_narrow_rounding(void **state) {
  (void)state;
  ndp_isa cpu = ndp_cpu_isa();
  for (int isa = 0; isa <= (int)cpu; isa++) {
    assert_int_equal(ndp_set_isa((ndp_isa)isa), 0);
    narrow_rounding();
  }
  ndp_set_isa(cpu);
}

/* float16 <-> every other dtype: through the value, as NumPy. */
static void test_other_dtypes(void **state) {
  (void)state;
  uint16_t *h = all_halves(), *back = malloc(NH * 2);
  char *buf = malloc(NH * 8);
  for (int t = 0; t < NDP_NTYPES; t++) {
    if (t == NDP_FLOAT16 || t == NDP_FLOAT32 || t == NDP_FLOAT64) continue;
    assert_int_equal(copy(h, NDP_FLOAT16, buf, (ndp_dtype)t, NH), 0);
    for (int i = 0; i < NH; i++) {
      double v = ref_value((uint16_t)i);
      if (t == NDP_BOOL) {
        assert_int_equal(((uint8_t *)buf)[i], v != 0 || isnan(v));
        continue;
      }
      double tv = trunc(v);
      int in_range; /* the cases NumPy defines: the truncated value fits */
      int64_t got;
      switch (t) {
      case NDP_INT8: got = ((int8_t *)buf)[i]; in_range = tv >= -128 && tv <= 127; break;
      case NDP_UINT8: got = ((uint8_t *)buf)[i]; in_range = tv >= 0 && tv <= 255; break;
      case NDP_INT16: got = ((int16_t *)buf)[i]; in_range = tv >= -32768 && tv <= 32767; break;
      case NDP_UINT16: got = ((uint16_t *)buf)[i]; in_range = tv >= 0 && tv <= 65535; break;
      case NDP_INT32: got = ((int32_t *)buf)[i]; in_range = isfinite(v); break;
      case NDP_UINT32: got = ((uint32_t *)buf)[i]; in_range = tv >= 0 && isfinite(v); break;
      case NDP_INT64: got = ((int64_t *)buf)[i]; in_range = isfinite(v); break;
      default: got = (int64_t)((uint64_t *)buf)[i]; in_range = tv >= 0 && isfinite(v); break;
      }
      if (in_range && (double)got != tv) print_message("%s %04x: %lld\n", ndp_dtype_name((ndp_dtype)t), i, (long long)got);
      if (in_range) assert_true((double)got == tv);
    }
    if (t == NDP_BOOL) continue; /* below */
    /* and back: small integers are exact, large ones round */
    int64_t n = 0;
    for (int64_t v = -70000; v <= 70000; v += 7) {
      if ((t == NDP_INT8 && (v < -128 || v > 127)) || (t == NDP_UINT8 && (v < 0 || v > 255)) ||
          (t == NDP_INT16 && (v < -32768 || v > 32767)) ||
          (t == NDP_UINT16 && (v < 0 || v > 65535)) ||
          ((t == NDP_UINT32 || t == NDP_UINT64) && v < 0))
        continue;
      switch (t) {
      case NDP_INT8: ((int8_t *)buf)[n] = (int8_t)v; break;
      case NDP_UINT8: ((uint8_t *)buf)[n] = (uint8_t)v; break;
      case NDP_INT16: ((int16_t *)buf)[n] = (int16_t)v; break;
      case NDP_UINT16: ((uint16_t *)buf)[n] = (uint16_t)v; break;
      case NDP_INT32: ((int32_t *)buf)[n] = (int32_t)v; break;
      case NDP_UINT32: ((uint32_t *)buf)[n] = (uint32_t)v; break;
      default: ((int64_t *)buf)[n] = v; break;
      }
      n++;
    }
    assert_int_equal(copy(buf, (ndp_dtype)t, back, NDP_FLOAT16, n), 0);
    int64_t j = 0;
    for (int64_t v = -70000; v <= 70000; v += 7) {
      if ((t == NDP_INT8 && (v < -128 || v > 127)) || (t == NDP_UINT8 && (v < 0 || v > 255)) ||
          (t == NDP_INT16 && (v < -32768 || v > 32767)) ||
          (t == NDP_UINT16 && (v < 0 || v > 65535)) ||
          ((t == NDP_UINT32 || t == NDP_UINT64) && v < 0))
        continue;
      assert_int_equal(back[j], ref_round((double)v));
      j++;
    }
  }
  /* bool -> float16: 0 and 1, any nonzero byte is True */
  uint8_t b[3] = {0, 1, 7};
  assert_int_equal(copy(b, NDP_BOOL, back, NDP_FLOAT16, 3), 0);
  assert_true(back[0] == 0 && back[1] == 0x3c00 && back[2] == 0x3c00);
  free(h), free(back), free(buf);
}

static int ufunc(int op, ndp_array *x, ndp_array *y, ndp_array *out, ndp_dtype loop) {
  const ndp_array *in[2] = {x, y};
  ndp_status st;
  return ndp_ufunc(op, in, out, loop, NDP_CASTING_SAME_KIND, NULL, &st);
}

/* rounds a float32 result the reference way */
static uint16_t ref_round32(float v) { return ref_round((double)v); }
static int same_half(uint16_t a, uint16_t b) {
  int na = (a & 0x7fff) > 0x7c00, nb = (b & 0x7fff) > 0x7c00;
  return na || nb ? na && nb : a == b;
}

/* The loops at every ISA: exact operations over all patterns give the
 * float32 result rounded to float16; predicates the float32 predicate. */
static void test_loops_every_isa(void **state) {
  (void)state;
  uint16_t *x = all_halves(), *y = malloc(NH * 2), *o = malloc(NH * 2);
  uint8_t *ob = malloc(NH);
  for (int i = 0; i < NH; i++) y[i] = (uint16_t)((i * 40503u) & 0xffffu);
  ndp_array X, Y, O, OB;
  vec(&X, x, NDP_FLOAT16, NH);
  vec(&Y, y, NDP_FLOAT16, NH);
  vec(&O, o, NDP_FLOAT16, NH);
  vec(&OB, ob, NDP_BOOL, NH);
  ndp_isa cpu = ndp_cpu_isa();
  for (int isa = 0; isa <= (int)cpu; isa++) {
    assert_int_equal(ndp_set_isa((ndp_isa)isa), 0);
    const int ops[] = {NDP_OP_ADD, NDP_OP_SUBTRACT, NDP_OP_MULTIPLY, NDP_OP_DIVIDE,
                       NDP_OP_SQRT, NDP_OP_NEGATIVE, NDP_OP_ABS, NDP_OP_FLOOR,
                       NDP_OP_SQUARE, NDP_OP_MINIMUM, NDP_OP_FMAX, NDP_OP_RINT};
    for (size_t k = 0; k < sizeof ops / sizeof *ops; k++) {
      int op = ops[k];
      assert_int_equal(ufunc(op, &X, &Y, &O, NDP_NTYPES), 0);
      for (int i = 0; i < NH; i++) {
        float a = (float)ref_value(x[i]), b = (float)ref_value(y[i]), r;
        switch (op) {
        case NDP_OP_ADD: r = a + b; break;
        case NDP_OP_SUBTRACT: r = a - b; break;
        case NDP_OP_MULTIPLY: r = a * b; break;
        case NDP_OP_DIVIDE: r = a / b; break;
        case NDP_OP_SQRT: r = sqrtf(a); break;
        case NDP_OP_NEGATIVE: r = -a; break;
        case NDP_OP_ABS: r = fabsf(a); break;
        case NDP_OP_FLOOR: r = floorf(a); break;
        case NDP_OP_SQUARE: r = a * a; break;
        case NDP_OP_MINIMUM: r = isnan(a) || isnan(b) ? NAN : a < b ? a : b == a ? b : b; break;
        case NDP_OP_FMAX: r = fmaxf(a, b); break;
        default: r = rintf(a); break;
        }
        uint16_t want = ref_round32(r);
        if (!same_half(o[i], want))
          print_message("isa %d op %s x=%04x y=%04x: %04x, want %04x\n", isa,
                        ndp_op_name(op), x[i], y[i], o[i], want);
        assert_true(same_half(o[i], want));
        if (op == NDP_OP_NEGATIVE) assert_int_equal(o[i] & 0x8000, (~x[i]) & 0x8000);
      }
    }
    const int preds[] = {NDP_OP_LESS, NDP_OP_EQUAL, NDP_OP_ISNAN, NDP_OP_ISINF, NDP_OP_ISFINITE};
    for (size_t k = 0; k < sizeof preds / sizeof *preds; k++) {
      assert_int_equal(ufunc(preds[k], &X, &Y, &OB, NDP_NTYPES), 0);
      for (int i = 0; i < NH; i++) {
        double a = ref_value(x[i]), b = ref_value(y[i]);
        int want = preds[k] == NDP_OP_LESS    ? a < b
                   : preds[k] == NDP_OP_EQUAL ? a == b
                   : preds[k] == NDP_OP_ISNAN ? isnan(a) != 0
                   : preds[k] == NDP_OP_ISINF ? isinf(a) != 0
                                              : isfinite(a) != 0;
        assert_int_equal(ob[i], want);
      }
    }
    /* transcendentals: within 1 float16 ULP of the correctly rounded result */
    const int tops[] = {NDP_OP_EXP, NDP_OP_LOG, NDP_OP_SIN, NDP_OP_TANH, NDP_OP_ARCTAN};
    for (size_t k = 0; k < sizeof tops / sizeof *tops; k++) {
      assert_int_equal(ufunc(tops[k], &X, NULL, &O, NDP_NTYPES), 0);
      for (int i = 0; i < NH; i++) {
        double a = ref_value(x[i]);
        double r = tops[k] == NDP_OP_EXP ? exp(a) : tops[k] == NDP_OP_LOG ? log(a)
                   : tops[k] == NDP_OP_SIN ? sin(a) : tops[k] == NDP_OP_TANH ? tanh(a) : atan(a);
        uint16_t want = ref_round(r);
        if (isnan(r) || (want & 0x7fff) >= 0x7c00) {
          assert_true(same_half(o[i], want));
          continue;
        }
        int d = abs((int)(o[i] & 0x7fff) - (int)(want & 0x7fff));
        if ((o[i] ^ want) & 0x8000) d = (o[i] & 0x7fff) + (want & 0x7fff);
        if (d > 1) print_message("isa %d %s(%04x): %04x, want %04x\n", isa, ndp_op_name(tops[k]), x[i], o[i], want);
        assert_true(d <= 1);
      }
    }
  }
  ndp_set_isa(cpu);
  free(x), free(y), free(o), free(ob);
}

/* Resolution as NumPy: float functions of bool/int8/uint8 are float16. */
static void test_resolution(void **state) {
  (void)state;
  ndp_dtype l, o, in[2];
  const ndp_dtype small[] = {NDP_BOOL, NDP_INT8, NDP_UINT8, NDP_FLOAT16};
  for (size_t i = 0; i < 4; i++) {
    in[0] = small[i];
    assert_int_equal(ndp_op_resolve(NDP_OP_EXP, in, NDP_NTYPES, NDP_CASTING_SAME_KIND, &l, &o, NULL), 0);
    assert_int_equal(o, NDP_FLOAT16);
  }
  in[0] = NDP_INT16;
  ndp_op_resolve(NDP_OP_EXP, in, NDP_NTYPES, NDP_CASTING_SAME_KIND, &l, &o, NULL);
  assert_int_equal(o, NDP_FLOAT32);
  in[0] = NDP_INT8, in[1] = NDP_FLOAT16;
  ndp_op_resolve(NDP_OP_ADD, in, NDP_NTYPES, NDP_CASTING_SAME_KIND, &l, &o, NULL);
  assert_int_equal(o, NDP_FLOAT16);
  in[0] = NDP_INT16;
  ndp_op_resolve(NDP_OP_ADD, in, NDP_NTYPES, NDP_CASTING_SAME_KIND, &l, &o, NULL);
  assert_int_equal(o, NDP_FLOAT32);
  in[0] = NDP_INT8, in[1] = NDP_INT8; /* true division of ints: float64 */
  ndp_op_resolve(NDP_OP_DIVIDE, in, NDP_NTYPES, NDP_CASTING_SAME_KIND, &l, &o, NULL);
  assert_int_equal(o, NDP_FLOAT64);
  in[0] = NDP_FLOAT16, in[1] = NDP_FLOAT16;
  ndp_op_resolve(NDP_OP_DIVIDE, in, NDP_NTYPES, NDP_CASTING_SAME_KIND, &l, &o, NULL);
  assert_int_equal(o, NDP_FLOAT16);
  ndp_op_resolve(NDP_OP_LESS, in, NDP_NTYPES, NDP_CASTING_SAME_KIND, &l, &o, NULL);
  assert_true(l == NDP_FLOAT16 && o == NDP_BOOL);
  /* the loop list holds 'e' between 'Q' and 'f' */
  ndp_loop_sig sig[NDP_MAX_LOOPS];
  int n = ndp_op_loops(NDP_OP_EXP, sig, NDP_MAX_LOOPS);
  assert_int_equal(n, 3);
  assert_true(sig[0].in[0] == NDP_FLOAT16 && sig[0].out == NDP_FLOAT16);
  n = ndp_op_loops(NDP_OP_DIVIDE, sig, NDP_MAX_LOOPS);
  int k = 0;
  while (k < n && sig[k].in[0] != NDP_FLOAT16) k++;
  assert_true(k < n && sig[k].in[1] == NDP_FLOAT16 && sig[k].out == NDP_FLOAT16);
  assert_true(sig[k - 1].in[0] == NDP_UINT64 && sig[k + 1].in[0] == NDP_FLOAT32);
}

/* An int8 input with a forced float16 loop, mixed dtypes, a byte-swapped
 * float16 input and output, and weak Python floats (NEP 50). */
static void test_mixed_and_weak(void **state) {
  (void)state;
  int8_t a[5] = {-3, 0, 1, 100, 127};
  uint16_t h[5] = {0x3c00, 0x3800, 0xc000, 0x7bff, 0x0001}; /* 1, 0.5, -2, 65504, 2^-24 */
  uint16_t o[5];
  ndp_array A, H, O;
  vec(&A, a, NDP_INT8, 5);
  vec(&H, h, NDP_FLOAT16, 5);
  vec(&O, o, NDP_FLOAT16, 5);
  assert_int_equal(ufunc(NDP_OP_ADD, &A, &H, &O, NDP_NTYPES), 0);
  for (int i = 0; i < 5; i++)
    assert_int_equal(o[i], ref_round32((float)a[i] + (float)ref_value(h[i])));
  /* byte-swapped */
  uint16_t hs[5], os[5];
  for (int i = 0; i < 5; i++) hs[i] = __builtin_bswap16(h[i]);
  ndp_array HS, OS;
  vec(&HS, hs, NDP_FLOAT16, 5);
  vec(&OS, os, NDP_FLOAT16, 5);
  HS.flags = OS.flags = NDP_ARRAY_BYTESWAPPED;
  assert_int_equal(ufunc(NDP_OP_EXP, &HS, NULL, &OS, NDP_NTYPES), 0);
  assert_int_equal(ufunc(NDP_OP_EXP, &H, NULL, &O, NDP_NTYPES), 0);
  for (int i = 0; i < 5; i++) assert_int_equal(__builtin_bswap16(os[i]), o[i]);
  /* weak float: float16 * 2.0 stays float16; * 1e6 overflows to inf */
  double w = 1e6;
  ndp_array W;
  assert_int_equal(ndp_array_init_weak(&W, &w, NDP_ARRAY_WEAK_FLOAT, NDP_FLOAT64), 0);
  const ndp_array *in[2] = {&H, &W};
  ndp_dtype l, od;
  ndp_status st;
  assert_int_equal(ndp_ufunc_resolve(NDP_OP_MULTIPLY, in, NDP_NTYPES, NDP_CASTING_SAME_KIND,
                                     NDP_NTYPES, NULL, &l, &od, &st), 0);
  assert_int_equal(od, NDP_FLOAT16);
  assert_int_equal(ufunc(NDP_OP_MULTIPLY, &H, &W, &O, NDP_NTYPES), 0);
  assert_true(o[0] == 0x7c00 && o[2] == 0xfc00 && o[4] == 0x7c00);
  w = 2.0;
  assert_int_equal(ufunc(NDP_OP_MULTIPLY, &H, &W, &O, NDP_NTYPES), 0);
  assert_true(o[0] == 0x4000 && o[1] == 0x3c00 && o[3] == 0x7c00 && o[4] == 0x0002);
  /* a weak int beyond float64 is refused, as NumPy's OverflowError */
  double big = INFINITY;
  assert_int_equal(ndp_array_init_weak(&W, &big, NDP_ARRAY_WEAK_INT, NDP_FLOAT64), 0);
  assert_int_equal(ufunc(NDP_OP_MULTIPLY, &H, &W, &O, NDP_NTYPES), NDP_EOVERFLOW);
  /* int32 input forced into the float16 loop (unsafe): rounded to float16 first */
  int32_t big32[2] = {2049, 4097};
  ndp_array B;
  vec(&B, big32, NDP_INT32, 2);
  vec(&O, o, NDP_FLOAT16, 2);
  const ndp_array *bin[2] = {&B, &B};
  assert_int_equal(ndp_ufunc(NDP_OP_ADD, bin, &O, NDP_FLOAT16, NDP_CASTING_UNSAFE, NULL, &st), 0);
  assert_int_equal(o[0], ref_round(4096.0)); /* 2049 -> 2048 (even), 2048 + 2048 */
  assert_int_equal(o[1], ref_round(8192.0));
}

/* Moving windows: float16 in, float16 out (bottleneck's dtype), computed
 * in float64 and rounded once. */
static void test_rolling(void **state) {
  (void)state;
  enum { N = 200 };
  uint16_t x[N], y[N];
  double xd[N];
  for (int i = 0; i < N; i++) {
    x[i] = ref_round(sin(i * 0.37) * 100.0);
    xd[i] = ref_value(x[i]);
  }
  x[17] = 0x7e00; /* NaN */
  xd[17] = NAN;
  ndp_array X, Y;
  vec(&X, x, NDP_FLOAT16, N);
  vec(&Y, y, NDP_FLOAT16, N);
  ndp_dtype od;
  assert_int_equal(ndp_roll_out_dtype(NDP_ROLL_MEAN, NDP_FLOAT16, &od), 0);
  assert_int_equal(od, NDP_FLOAT16);
  ndp_roll_opts o;
  memset(&o, 0, sizeof o);
  o.window = 4;
  o.min_count = 4;
  o.axis = 0;
  ndp_status st;
  assert_int_equal(ndp_rolling(NDP_ROLL_SUM, &X, &Y, &o, NULL, &st), 0);
  for (int i = 0; i < N; i++) {
    double s = 0;
    int nan = i < 3;
    for (int j = i - 3; j <= i && !nan; j++) {
      if (isnan(xd[j])) nan = 1;
      else s += xd[j];
    }
    uint16_t want = nan ? 0x7e00 : ref_round(s);
    if (!same_half(y[i], want)) print_message("move_sum[%d] = %04x, want %04x\n", i, y[i], want);
    assert_true(same_half(y[i], want));
  }
  ndp_array bad;
  float f[N];
  vec(&bad, f, NDP_FLOAT32, N);
  assert_int_equal(ndp_rolling(NDP_ROLL_SUM, &X, &bad, &o, NULL, &st), NDP_ETYPE);
}

/* Kernels (src/kernel) have no float16 type: refused, never misread. */
static void test_kernel_refuses(void **state) {
  (void)state;
  const char *src = "def f(a):\n    return a * 2\n";
  ndp_kernel_arg arg = {NDP_FLOAT16, 0, 0};
  ndp_kernel *k = NULL;
  ndp_status st;
  assert_int_equal(ndp_kernel_compile(src, "f", 1, &arg, NULL, &k, &st), NDP_ETYPE);
  assert_null(k);
  arg.dtype = NDP_FLOAT32;
  assert_int_equal(ndp_kernel_compile(src, "f", 1, &arg, NULL, &k, &st), 0);
  uint16_t h[3] = {0x3c00, 0x4000, 0x4200};
  float o[3];
  ndp_array A, O;
  vec(&A, h, NDP_FLOAT16, 3);
  vec(&O, o, NDP_FLOAT32, 3);
  const ndp_array *args[1] = {&A};
  assert_int_equal(ndp_kernel_eval(k, args, &O, NULL, &st), NDP_ETYPE);
  assert_non_null(strstr(st.msg, "float16"));
  ndp_kernel_free(k);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dtype_basics),      cmocka_unit_test(test_can_cast),
      cmocka_unit_test(test_widen_all_patterns), cmocka_unit_test(test_narrow_rounding),
      cmocka_unit_test(test_other_dtypes),      cmocka_unit_test(test_loops_every_isa),
      cmocka_unit_test(test_resolution),        cmocka_unit_test(test_mixed_and_weak),
      cmocka_unit_test(test_rolling),           cmocka_unit_test(test_kernel_refuses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
