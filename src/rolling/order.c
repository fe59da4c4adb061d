/*
 * rolling/order.c - moving median and quantile, one block at a time.
 *
 * The statistic of a window is taken from its k-th and (k+1)-th smallest
 * non-NaN values: median = the middle value, or the mean of the two middle
 * values for an even count (NumPy, bottleneck); quantile q = linear
 * interpolation at position q * (count - 1) (numpy.quantile's default
 * 'linear' method, with its formula: a + (b - a) t for t < 0.5, else
 * b - (b - a)(1 - t); at an exact position the value itself).
 * Results are exact functions of the window's values, so they cannot
 * depend on blocking or on the thread count.
 *
 * Two algorithms; both give the same (exact) results:
 *
 *  - small windows (w <= SMALL_MAX) and small pieces (fewer than
 *    SMALL_BLOCK inputs, where a sort would not pay for itself): the
 *    window's non-NaN values kept in a sorted array. Each step finds the
 *    outgoing value and the incoming value's place (by counting the
 *    smaller values, or a branch-free binary search beyond 16) and shifts
 *    the values between them by one. 8-20 ns a point for w = 3 .. 10.
 *
 *  - otherwise: ranks. The block's non-NaN inputs are sorted once (LSD
 *    radix sort on order-preserving 64-bit keys, stable, so equal values
 *    get distinct ranks by position): O(1) per point. The window is then
 *    a set of ranks kept in a 64-ary bit tree (one bit per rank, a
 *    summary bit per non-empty word above it): insert, delete, and
 *    next/previous member are O(log_64 L) word operations. A cursor sits
 *    on the rank of the k-th smallest member and knows how many members
 *    are below it; each insert, delete and change of k moves it by at
 *    most one member. So every output costs O(log w) at worst and a
 *    handful of word operations in practice, whatever the window: about
 *    25-30 ns a point on one core for w = 5 .. 10^4 (measured), where a
 *    double heap (bottleneck) grows with log w.
 *
 * Thread-safety: pure functions of their arguments.
 */
#include <math.h>
#include <string.h>

#include "core/internal.h"
#include "rolling/rolling_internal.h"

#define SMALL_MAX 12   /* sorted array up to this window (measured: faster), */
#define SMALL_BLOCK 64  /* and for pieces of fewer inputs (no sort to set up) */

/* ---- the statistic ----------------------------------------------------------- */

typedef struct want {
  int64_t lo;  /* order index of the lower value */
  int two;     /* the upper value (lo + 1) is needed */
  double t;    /* QUANTILE: interpolation weight */
} want;

static inline want target(const ndp__roll_k *k, int64_t cnt) {
  want r;
  if (k->fn == NDP_ROLL_MEDIAN) {
    r.lo = (cnt - 1) / 2;
    r.two = (cnt & 1) == 0;
    r.t = 0.5;
  } else {
    const double pos = (double)(cnt - 1) * k->q;
    double f = floor(pos);
    if (f > (double)(cnt - 1)) f = (double)(cnt - 1);
    r.lo = (int64_t)f;
    r.t = pos - f;
    r.two = r.t > 0 && r.lo < cnt - 1;
  }
  return r;
}

static inline double finish(const ndp__roll_k *k, const want *t, double a, double b) {
  if (!t->two) return a;
  if (k->fn == NDP_ROLL_MEDIAN) return (a + b) / 2;
  const double d = b - a;
  return t->t >= 0.5 ? b - d * (1 - t->t) : a + d * t->t;
}

/* ---- small windows: a sorted array --------------------------------------------- */

/* Index of the first element >= v in sorted a[0..n). Up to 16 values:
 * the number of elements below v, counted without branches (no chain of
 * dependent loads); beyond, a branch-free binary search. */
static inline int64_t lower_bound(const double *a, int64_t n, double v) {
  if (n <= 16) {
    int64_t c0 = 0, c1 = 0, i = 0;
    for (; i + 2 <= n; i += 2) {
      c0 += a[i] < v;
      c1 += a[i + 1] < v;
    }
    if (i < n) c0 += a[i] < v;
    return c0 + c1;
  }
  const double *b = a;
  while (n > 1) {
    const int64_t h = n / 2;
    b = b[h] < v ? b + h : b;
    n -= h;
  }
  return (b - a) + (*b < v);
}

/* a[lo + 1 .. hi] = a[lo .. hi - 1] (right) or a[lo .. hi - 1] = a[lo + 1 ..
 * hi] (left): short shifts inline, long ones by memmove. */
static inline void shift_right(double *a, int64_t lo, int64_t hi) {
  if (hi - lo > 16) {
    memmove(a + lo + 1, a + lo, (size_t)(hi - lo) * sizeof *a);
    return;
  }
  for (int64_t j = hi; j > lo; j--) a[j] = a[j - 1];
}
static inline void shift_left(double *a, int64_t lo, int64_t hi) {
  if (hi - lo > 16) {
    memmove(a + lo, a + lo + 1, (size_t)(hi - lo) * sizeof *a);
    return;
  }
  for (int64_t j = lo; j < hi; j++) a[j] = a[j + 1];
}

static inline void arr_insert(double *a, int64_t *n, double v) {
  const int64_t q = lower_bound(a, *n, v);
  shift_right(a, q, *n);
  a[q] = v;
  (*n)++;
}

static inline void arr_remove(double *a, int64_t *n, double v) {
  const int64_t p = lower_bound(a, *n, v);
  shift_left(a, p, *n - 1);
  (*n)--;
}

/* Replaces value vo (present) by vn: one shift of the values between. */
static inline void arr_replace(double *a, int64_t n, double vo, double vn) {
  const int64_t p = lower_bound(a, n, vo), q = lower_bound(a, n, vn);
  if (q <= p) {
    shift_right(a, q, p);
    a[q] = vn;
  } else {
    shift_left(a, p, q - 1);
    a[q - 1] = vn;
  }
}

static void order_small(const ndp__roll_k *k, const double *x, int64_t m, double *y,
                        double *a) {
  const int64_t w = k->w;
  int64_t n = 0;
  for (int64_t j = 0; j < w - 1; j++)
    if (x[j] == x[j]) arr_insert(a, &n, x[j]);
  for (int64_t i = 0; i < m; i++) {
    const double vn = x[i + w - 1], vo = i > 0 ? x[i - 1] : NAN;
    if (vo == vo) {
      if (vn == vn) arr_replace(a, n, vo, vn);
      else arr_remove(a, &n, vo);
    } else if (vn == vn) {
      arr_insert(a, &n, vn);
    }
    if (n < k->minc) {
      y[i] = NAN;
      continue;
    }
    const want t = target(k, n);
    y[i] = finish(k, &t, a[t.lo], t.two ? a[t.lo + 1] : 0);
  }
}

/* ---- large windows: ranks in a 64-ary bit tree ------------------------------- */

#define MAXLEV 7 /* 64^7 = 2^42 ranks */
#define NONE UINT32_MAX

typedef struct btree {
  uint64_t *w[MAXLEV];
  int nlev;
} btree;

static int64_t btree_words(int64_t n, int *nlev) {
  int64_t total = 0;
  int l = 0;
  do {
    n = (n + 63) / 64;
    total += n;
    l++;
  } while (n > 1);
  if (nlev) *nlev = l;
  return total;
}

static void btree_init(btree *t, uint64_t *mem, int64_t n) {
  const int64_t words = btree_words(n, &t->nlev);
  memset(mem, 0, (size_t)words * sizeof *mem);
  for (int l = 0; l < t->nlev; l++) {
    t->w[l] = mem;
    n = (n + 63) / 64;
    mem += n;
  }
}

static inline void bt_set(btree *t, uint64_t r) {
  for (int l = 0; l < t->nlev; l++) {
    uint64_t *p = &t->w[l][r >> 6];
    const uint64_t old = *p;
    *p = old | (1ull << (r & 63));
    if (old) return;
    r >>= 6;
  }
}

static inline void bt_clear(btree *t, uint64_t r) {
  for (int l = 0; l < t->nlev; l++) {
    uint64_t *p = &t->w[l][r >> 6];
    *p &= ~(1ull << (r & 63));
    if (*p) return;
    r >>= 6;
  }
}

/* Smallest member > r, or -1. */
static inline int64_t bt_next(const btree *t, uint64_t r) {
  int l = 0;
  for (;; l++) {
    if (l == t->nlev) return -1;
    const uint64_t sh = r & 63, wi = r >> 6;
    const uint64_t m = sh == 63 ? 0 : t->w[l][wi] & (~0ull << (sh + 1));
    if (m) {
      r = (wi << 6) | (uint64_t)__builtin_ctzll(m);
      break;
    }
    r = wi;
  }
  while (l > 0) {
    l--;
    r = (r << 6) | (uint64_t)__builtin_ctzll(t->w[l][r]);
  }
  return (int64_t)r;
}

/* Largest member < r, or -1. */
static inline int64_t bt_prev(const btree *t, uint64_t r) {
  int l = 0;
  for (;; l++) {
    if (l == t->nlev) return -1;
    const uint64_t sh = r & 63, wi = r >> 6;
    const uint64_t m = t->w[l][wi] & ((1ull << sh) - 1);
    if (m) {
      r = (wi << 6) | (uint64_t)(63 - __builtin_clzll(m));
      break;
    }
    r = wi;
  }
  while (l > 0) {
    l--;
    r = (r << 6) | (uint64_t)(63 - __builtin_clzll(t->w[l][r]));
  }
  return (int64_t)r;
}

/* Order-preserving keys: unsigned order of keys = numeric order of
 * doubles (-0.0 just below +0.0). */
static inline uint64_t key_of(double v) {
  uint64_t u;
  memcpy(&u, &v, sizeof u);
  return u ^ ((uint64_t)((int64_t)u >> 63) | 0x8000000000000000ull);
}

static inline double val_of(uint64_t k) {
  const uint64_t u = k ^ ((k >> 63) ? 0x8000000000000000ull : ~0ull);
  double v;
  memcpy(&v, &u, sizeof v);
  return v;
}

/* Stable LSD radix sort of n keys with their indices, 8 bits a pass;
 * passes where every key has the same digit are skipped. The result is in
 * *k, *ix (which may now point to k2, i2). */
#define RBITS 8
#define RBINS (1 << RBITS)
#define RPASS 8
static void radix_sort(uint64_t **k, uint32_t **ix, uint64_t *k2, uint32_t *i2, int64_t n,
                       uint32_t *hist) {
  uint64_t *ka = *k;
  uint32_t *ia = *ix;
  memset(hist, 0, RPASS * RBINS * sizeof *hist);
  for (int64_t i = 0; i < n; i++) {
    const uint64_t u = ka[i];
    for (int d = 0; d < RPASS; d++) hist[d * RBINS + ((u >> (RBITS * d)) & (RBINS - 1))]++;
  }
  for (int d = 0; d < RPASS; d++) {
    uint32_t *h = hist + d * RBINS;
    const int sh = RBITS * d;
    if (h[(ka[0] >> sh) & (RBINS - 1)] == (uint32_t)n) continue;
    uint32_t sum = 0;
    for (int b = 0; b < RBINS; b++) {
      const uint32_t c = h[b];
      h[b] = sum;
      sum += c;
    }
    for (int64_t i = 0; i < n; i++) {
      const uint64_t u = ka[i];
      const uint32_t p = h[(u >> sh) & (RBINS - 1)]++;
      k2[p] = u;
      i2[p] = ia[i];
    }
    uint64_t *tk = ka;
    ka = k2;
    k2 = tk;
    uint32_t *ti = ia;
    ia = i2;
    i2 = ti;
  }
  *k = ka;
  *ix = ia;
}

typedef struct rank_mem {
  uint64_t *k0, *k1;
  uint32_t *i0, *i1, *rank, *hist;
  uint64_t *bits;
} rank_mem;

static size_t rank_layout(int64_t L, rank_mem *r, void *base) {
  char *p = base;
  size_t off = 0;
#define TAKE(field, type, count)                                                      \
  do {                                                                                \
    if (r) r->field = (type *)(p + off);                                              \
    off += ((size_t)(count) * sizeof(type) + 63) & ~(size_t)63;                       \
  } while (0)
  TAKE(k0, uint64_t, L);
  TAKE(k1, uint64_t, L);
  TAKE(i0, uint32_t, L);
  TAKE(i1, uint32_t, L);
  TAKE(rank, uint32_t, L);
  TAKE(hist, uint32_t, RPASS * RBINS);
  TAKE(bits, uint64_t, btree_words(L, NULL));
#undef TAKE
  return off;
}

static void order_rank(const ndp__roll_k *k, const double *x, int64_t m, double *y,
                       void *scratch) {
  const int64_t w = k->w, L = m + w - 1;
  rank_mem r;
  rank_layout(L, &r, scratch);
  /* sort the non-NaN inputs; rank[j] = their order, NONE for NaN */
  int64_t n = 0;
  for (int64_t j = 0; j < L; j++) {
    if (x[j] == x[j]) {
      r.k0[n] = key_of(x[j]);
      r.i0[n++] = (uint32_t)j;
    }
    r.rank[j] = NONE;
  }
  if (n == 0) {
    for (int64_t i = 0; i < m; i++) y[i] = NAN;
    return;
  }
  uint64_t *ks = r.k0;
  uint32_t *is = r.i0;
  radix_sort(&ks, &is, r.k1, r.i1, n, r.hist);
  for (int64_t q = 0; q < n; q++) r.rank[is[q]] = (uint32_t)q;
  btree t;
  btree_init(&t, r.bits, n);

  int64_t cnt = 0, ci = 0; /* members; members below the cursor */
  int64_t c = -1;          /* cursor: a member's rank */
#define INSERT(rk)                                   \
  do {                                               \
    const uint32_t r_ = (rk);                        \
    if (r_ != NONE) {                                \
      bt_set(&t, r_);                                \
      if (cnt == 0) c = r_, ci = 0;                  \
      else if ((int64_t)r_ < c) ci++;                \
      cnt++;                                         \
    }                                                \
  } while (0)
  for (int64_t j = 0; j < w - 1; j++) INSERT(r.rank[j]);
  for (int64_t i = 0; i < m; i++) {
    INSERT(r.rank[i + w - 1]);
    if (cnt < k->minc) {
      y[i] = NAN;
    } else {
      const want tg = target(k, cnt);
      while (ci < tg.lo) c = bt_next(&t, (uint64_t)c), ci++;
      while (ci > tg.lo) c = bt_prev(&t, (uint64_t)c), ci--;
      const double a = val_of(ks[c]);
      const double b = tg.two ? val_of(ks[bt_next(&t, (uint64_t)c)]) : 0;
      y[i] = finish(k, &tg, a, b);
    }
    const uint32_t ro = r.rank[i];
    if (ro != NONE) {
      bt_clear(&t, ro);
      cnt--;
      if (cnt == 0) {
        c = -1;
        ci = 0;
      } else if ((int64_t)ro < c) {
        ci--;
      } else if ((int64_t)ro == c) {
        const int64_t nx = bt_next(&t, (uint64_t)c);
        if (nx >= 0) {
          c = nx;
        } else {
          c = bt_prev(&t, (uint64_t)c);
          ci--;
        }
      }
    }
  }
#undef INSERT
}

/* ---- entry ---------------------------------------------------------------------- */

/* Ranks are 32-bit and a block holds fewer than 3w + 16384 points
 * (rolling.c), so windows over 2^30 points fall back to the sorted array.
 * Both algorithms give the same results (exact order statistics). */
static int use_small(const ndp__roll_k *k, int64_t m) {
  return k->w <= SMALL_MAX || m + k->w - 1 < SMALL_BLOCK || k->w > ((int64_t)1 << 30);
}

size_t ndp__roll_order_scratch(const ndp__roll_k *k, int64_t m) {
  const size_t small = (size_t)k->w * sizeof(double);
  if (use_small(k, m)) return small;
  const size_t rank = rank_layout(m + k->w - 1, NULL, NULL);
  return rank > small ? rank : small; /* a shorter last block may go small */
}

void ndp__roll_order(const ndp__roll_k *k, const double *x, int64_t m, double *y,
                     void *scratch) {
  if (use_small(k, m)) order_small(k, x, m, y, scratch);
  else order_rank(k, x, m, y, scratch);
}
