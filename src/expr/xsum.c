/*
 * expr/xsum.c - exact float64 sums: the superaccumulator of ndpar/expr.h
 * (in the style of Neal's small superaccumulator, 2015; written here).
 *
 * A finite double is m * 2^(low - 1074) with m < 2^53 (the implicit bit
 * included) and low = biased exponent - 1 (0 for subnormals), 0 .. 2045.
 * It is added as two integers: its low 32 - (low & 31) bits, shifted, to
 * chunk low / 32, and the rest (< 2^52) to the next chunk; negatives
 * subtract. A chunk of 64 bits absorbs 2^11 such terms before it could
 * overflow, so the chunks are carried (each brought to [0, 2^32), the
 * excess moved up) after at most CARRY_EVERY terms; the top chunk then
 * holds the sign. Rounding finds the highest bit, takes 53 bits below it (never
 * below 2^-1074, so subnormals need no second rounding), and rounds to
 * nearest even with the bits beneath; ldexp of that is then exact.
 *
 * Speed: the add loop keeps four chunk tables (terms i mod 4), so that
 * terms of similar size, which hit the same chunk, do not wait for each
 * other's stores; they are merged at the end of each call. Specials (inf,
 * NaN) leave the loop for a flag.
 *
 * Thread-safety: functions of their arguments; a state is plain data.
 */
#include <math.h>
#include <string.h>

#include "core/internal.h"
#include "expr/expr_internal.h"
#include "ndpar.h"

#define NC NDP_XSUM_CHUNKS
#define CARRY_EVERY 1024 /* terms per table between carries (< 2^11) */

void ndp_xsum_init(ndp_xsum *s) { memset(s, 0, sizeof *s); }

/* chunk i to [0, 2^32) for i < NC - 1, the excess to chunk i + 1 (floor
 * division: exact for negatives too) */
static void carry(int64_t *c) {
  for (int i = 0; i < NC - 1; i++) {
    const int64_t lo = (int64_t)((uint64_t)c[i] & 0xffffffffu);
    const int64_t up = (c[i] - lo) / ((int64_t)1 << 32);
    c[i] = lo;
    c[i + 1] += up;
  }
}

static uint32_t special_flag(uint64_t u) {
  if (u & ((UINT64_C(1) << 52) - 1)) return NDP_XSUM_NAN;
  return (u >> 63) ? NDP_XSUM_NINF : NDP_XSUM_PINF;
}

/* one finite term, as bits u, into chunk table c */
static inline void add_bits(int64_t *c, uint64_t u) {
  const int e = (int)((u >> 52) & 0x7ff);
  uint64_t m = u & ((UINT64_C(1) << 52) - 1);
  int low = 0;
  if (e) m |= UINT64_C(1) << 52, low = e - 1;
  const int i = low >> 5, sh = low & 31;
  const int64_t neg = -(int64_t)(u >> 63); /* 0 or -1 */
  const int64_t a = (int64_t)((m << sh) & 0xffffffffu), b = (int64_t)(m >> (32 - sh));
  c[i] += (a ^ neg) - neg;
  c[i + 1] += (b ^ neg) - neg;
}

/* The streaming accumulator (expr_internal.h), Neal's "large"
 * superaccumulator: one unsigned 64-bit entry per sign and exponent (the
 * top 12 bits of the double), which sums the 53-bit significands of that
 * sign and exponent, in two tables (even and odd terms); at most SUB terms
 * between flushes keep every entry below 2^63. A flush moves the entries used since the last one (the
 * exponent range is tracked) into the small superaccumulator `s`, three
 * 32-bit pieces each, and zeroes them. Subnormals go straight to `s`;
 * infinities and NaN to the flags. */
#define SUB 2048 /* terms between flushes: at most 1024 per table */

void ndp__xacc_init(ndp__xacc *a) {
  memset(a, 0, sizeof *a);
  a->emin = 0x7ff;
  a->emax = -1;
}

static void xacc_flush_big(ndp__xacc *a) {
  for (int e = a->emin; e <= a->emax; e++)
    for (int sg = 0; sg < 2; sg++) {
      const uint64_t v0 = a->big[0][(sg << 11) | e], v1 = a->big[1][(sg << 11) | e];
      if (!(v0 | v1)) continue;
      a->big[0][(sg << 11) | e] = a->big[1][(sg << 11) | e] = 0;
      for (int h = 0; h < 2; h++) {
      const uint64_t v = h ? v1 : v0;
      const int low = e - 1, i = low >> 5, sh = low & 31;
      const int64_t p0 = (int64_t)((v << sh) & 0xffffffffu);
      const int64_t p1 = (int64_t)((sh ? v >> (32 - sh) : v >> 32) & 0xffffffffu);
      const int64_t p2 = (int64_t)(sh ? v >> (64 - sh) : 0);
      if (sg) a->s[i] -= p0, a->s[i + 1] -= p1, a->s[i + 2] -= p2;
      else a->s[i] += p0, a->s[i + 1] += p1, a->s[i + 2] += p2;
      }
    }
  a->emin = 0x7ff;
  a->emax = -1;
  carry(a->s);
}

static void xacc_run(ndp__xacc *a, const double *x, int64_t n) {
  const uint64_t MANT = (UINT64_C(1) << 52) - 1, IMPL = UINT64_C(1) << 52;
  int emin = a->emin, emax = a->emax;
  uint32_t fl = 0;
  /* terms alternate between the two tables: a run of equal exponents
   * makes two chains of read-modify-writes, not one */
  for (int64_t i = 0; i < n; i++) {
    uint64_t u;
    memcpy(&u, x + i, 8);
    const unsigned ix = (unsigned)(u >> 52), e = ix & 0x7ff;
    if (e - 1u >= 0x7feu) { /* e == 0 (zero, subnormal) or 0x7ff (inf, NaN) */
      if (e) fl |= special_flag(u);
      else add_bits(a->s, u);
      continue;
    }
    a->big[i & 1][ix] += (u & MANT) | IMPL;
    emin = (int)e < emin ? (int)e : emin;
    emax = (int)e > emax ? (int)e : emax;
  }
  a->emin = emin;
  a->emax = emax;
  a->flags |= fl;
}

void ndp__xacc_add(ndp__xacc *a, const double *x, int64_t n) {
  while (n > 0) {
    if (a->cnt >= SUB) {
      xacc_flush_big(a);
      a->cnt = 0;
    }
    const int64_t m = n < SUB - a->cnt ? n : SUB - a->cnt;
    xacc_run(a, x, m);
    a->cnt += m;
    x += m;
    n -= m;
  }
}

void ndp__xacc_flush(ndp__xacc *a, ndp_xsum *s) {
  xacc_flush_big(a); /* also carries a->s */
  a->cnt = 0;
  carry(s->chunk);
  for (int j = 0; j < NC; j++) s->chunk[j] += a->s[j], a->s[j] = 0;
  s->flags |= a->flags;
  a->flags = 0;
}

void ndp__xsum_add1(ndp_xsum *s, double x) {
  uint64_t u;
  memcpy(&u, &x, 8);
  if (((u >> 52) & 0x7ff) == 0x7ff) {
    s->flags |= special_flag(u);
    return;
  }
  add_bits(s->chunk, u);
  if (++s->pending >= CARRY_EVERY) carry(s->chunk), s->pending = 0;
}

void ndp_xsum_add(ndp_xsum *s, const double *x, int64_t n) {
  ndp__xacc *a = ndp__malloc(sizeof *a);
  if (a) {
    ndp__xacc_init(a);
    ndp__xacc_add(a, x, n);
    ndp__xacc_flush(a, s);
    ndp__free(a);
    return;
  }
  /* no memory for the 33 KB table: term by term into s (slower, same sum) */
  for (int64_t i = 0; i < n; i++) {
    uint64_t u;
    memcpy(&u, x + i, 8);
    if (((u >> 52) & 0x7ff) == 0x7ff) s->flags |= special_flag(u);
    else add_bits(s->chunk, u);
    if (++s->pending >= CARRY_EVERY) carry(s->chunk), s->pending = 0;
  }
}

void ndp_xsum_add_dot(ndp_xsum *s, const double *a, const double *b, int64_t n) {
  double buf[512];
  for (int64_t i = 0; i < n;) {
    int64_t m = 0;
    for (; m + 2 <= 512 && i < n; i++) {
      const double p = a[i] * b[i];
      buf[m++] = p;
      if (isfinite(p)) buf[m++] = fma(a[i], b[i], -p); /* the exact error */
    }
    ndp_xsum_add(s, buf, m);
  }
}

void ndp_xsum_merge(ndp_xsum *s, const ndp_xsum *t) {
  ndp_xsum c = *t;
  carry(c.chunk);
  carry(s->chunk);
  for (int j = 0; j < NC; j++) s->chunk[j] += c.chunk[j];
  s->pending = 1;
  s->flags |= t->flags;
}

double ndp_xsum_round(const ndp_xsum *s) {
  const uint32_t f = s->flags;
  if ((f & NDP_XSUM_NAN) || ((f & NDP_XSUM_PINF) && (f & NDP_XSUM_NINF))) return NAN;
  if (f & NDP_XSUM_PINF) return INFINITY;
  if (f & NDP_XSUM_NINF) return -INFINITY;
  int64_t c[NC];
  memcpy(c, s->chunk, sizeof c);
  carry(c);
  const int neg = c[NC - 1] < 0;
  if (neg) {
    for (int j = 0; j < NC; j++) c[j] = -c[j];
    carry(c);
  }
  if (c[NC - 1] != 0) return neg ? -INFINITY : INFINITY; /* >= 2^(32 * 66 - 1074) */
  int top = NC - 2;
  while (top >= 0 && c[top] == 0) top--;
  if (top < 0) return 0.0; /* as NumPy's sum, also of -0.0 terms */
  int hb = 32 * top + 31;
  while (!((uint64_t)c[top] >> (hb - 32 * top))) hb--;
  if (hb >= 1074 + 1024) return neg ? -INFINITY : INFINITY;
  const int lo = hb > 52 ? hb - 52 : 0;
  const int j = lo >> 5, o = lo & 31;
  const uint64_t d0 = (uint64_t)c[j], d1 = j + 1 < NC ? (uint64_t)c[j + 1] : 0,
                 d2 = j + 2 < NC ? (uint64_t)c[j + 2] : 0;
  const uint64_t w = d0 | (d1 << 32);
  uint64_t mant = (w >> o) | (o ? d2 << (64 - o) : 0);
  mant &= (UINT64_C(1) << 53) - 1;
  if (lo > 0) { /* round to nearest even on the bits below lo */
    const int r = lo - 1, rj = r >> 5, ro = r & 31;
    const int half = (int)(((uint64_t)c[rj] >> ro) & 1);
    int sticky = ((uint64_t)c[rj] & ((UINT64_C(1) << ro) - 1)) != 0;
    for (int k = 0; k < rj && !sticky; k++) sticky = c[k] != 0;
    if (half && (sticky || (mant & 1))) mant++;
  }
  const double v = ldexp((double)mant, lo - 1074);
  return neg ? -v : v;
}

static void put64(unsigned char *p, uint64_t v) {
  for (int k = 0; k < 8; k++) p[k] = (unsigned char)(v >> (8 * k));
}
static uint64_t get64(const unsigned char *p) {
  uint64_t v = 0;
  for (int k = 0; k < 8; k++) v |= (uint64_t)p[k] << (8 * k);
  return v;
}

void ndp_xsum_to_bytes(const ndp_xsum *s, unsigned char *out) {
  int64_t c[NC];
  memcpy(c, s->chunk, sizeof c);
  carry(c);
  memcpy(out, "NDPXSUM1", 8);
  put64(out + 8, s->flags & 7u);
  for (int j = 0; j < NC; j++) put64(out + 16 + 8 * j, (uint64_t)c[j]);
}

int ndp_xsum_from_bytes(ndp_xsum *s, const unsigned char *b, size_t n, ndp_status *st) {
  if (!s || !b || n != NDP_XSUM_BYTES)
    return ndp__fail(st, NDP_EINVAL, "xsum: a state is %d bytes, got %zu", NDP_XSUM_BYTES,
                     b ? n : 0);
  if (memcmp(b, "NDPXSUM1", 8) != 0)
    return ndp__fail(st, NDP_EINVAL, "xsum: not an ndpar exact-sum state (bad magic)");
  const uint64_t fl = get64(b + 8);
  if (fl > 7u) return ndp__fail(st, NDP_EINVAL, "xsum: bad flags %llu", (unsigned long long)fl);
  ndp_xsum t;
  memset(&t, 0, sizeof t);
  for (int j = 0; j < NC; j++) {
    const int64_t v = (int64_t)get64(b + 16 + 8 * j);
    const int ok = j < NC - 1 ? v >= 0 && v <= (int64_t)0xffffffff
                              : v > -((int64_t)1 << 40) && v < ((int64_t)1 << 40);
    if (!ok) return ndp__fail(st, NDP_EINVAL, "xsum: chunk %d is out of range", j);
    t.chunk[j] = v;
  }
  t.flags = (uint32_t)fl;
  *s = t;
  ndp__ok(st);
  return 0;
}
