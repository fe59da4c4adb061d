/*
 * rolling/extrema.c - moving min, max, argmin, argmax, one block at a time.
 *
 * Algorithm: van Herk / Gil-Werman. The block's inputs are cut into
 * segments of w points starting at 0. For every output start j we keep
 * S[j], the best of x[j .. end of j's segment] (one right-to-left pass),
 * and while walking left to right P, the best of x[start of i's segment ..
 * i]. A window x[j .. i] (i = j + w - 1) is the suffix of one segment plus
 * a prefix of the next (or exactly one segment), so its best is
 * best(S[j], P[i]): three comparisons per output whatever the window, no
 * data-dependent branches, O(1) per element (the monotone deque's bound,
 * without its unpredictable pops).
 *
 * Ties go to the newest point, as bottleneck's move_argmin/move_argmax:
 * the left-to-right prefix takes a point equal to the best so far, the
 * right-to-left suffix keeps the newer one, and the combination prefers
 * the prefix (the newer points). argmin/argmax are counted back from the
 * window's last position (0 = the newest point).
 *
 * NaN: blocks of finite values run the plain loop. Otherwise NaN is read
 * as +inf (min) or -inf (max), which can never beat a number, and a
 * running count of non-NaN points enforces min_count. A window whose best
 * is that infinity holds only such infinities (and NaN); its argmin/argmax
 * is then found by a scan for the newest one: O(w), but only for windows
 * whose every value is +inf (argmin) or -inf (argmax).
 *
 * Thread-safety: pure functions of their arguments.
 */
#include <math.h>

#include "core/internal.h"
#include "rolling/rolling_internal.h"

#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

/* a strictly better than b */
static ALWAYS_INLINE int better(double a, double b, int is_max) { return is_max ? a > b : a < b; }

static ALWAYS_INLINE void ext_block(const double *x, int64_t m, int64_t w, int64_t minc,
                                    double *y, double *S, int64_t *SI, const int is_max,
                                    const int want_arg, const int has_nan) {
  const int64_t L = m + w - 1;
  const double sent = is_max ? -INFINITY : INFINITY;
#define V(p) (has_nan && x[p] != x[p] ? sent : x[p])
  /* suffixes, for output starts j < m */
  for (int64_t g = 0; g < m; g += w) {
    const int64_t e = (g + w < L ? g + w : L) - 1;
    double cur = V(e);
    int64_t ci = e;
    int64_t i = e;
    for (; i >= m; i--) {
      const double v = V(i);
      if (better(v, cur, is_max)) cur = v, ci = i;
    }
    for (; i >= g; i--) {
      const double v = V(i);
      if (better(v, cur, is_max)) cur = v, ci = i;
      S[i] = cur;
      if (want_arg) SI[i] = ci;
    }
  }
  /* prefixes, combined with the suffixes */
  int64_t cnt = 0;
  for (int64_t g = 0; g < L; g += w) {
    const int64_t e = g + w < L ? g + w : L;
    double cur = V(g);
    int64_t ci = g;
    for (int64_t i = g; i < e; i++) {
      const double v = V(i);
      if (!better(cur, v, is_max)) cur = v, ci = i;
      if (has_nan) {
        cnt += x[i] == x[i];
        if (i >= w) cnt -= x[i - w] == x[i - w];
      }
      if (i < w - 1) continue;
      const int64_t j = i - w + 1;
      double best = cur;
      int64_t bi = ci;
      if (better(S[j], cur, is_max)) {
        best = S[j];
        if (want_arg) bi = SI[j];
      }
      if (has_nan && cnt < minc) {
        y[j] = NAN;
      } else if (!want_arg) {
        y[j] = best;
      } else {
        if (has_nan && best == sent) /* only infinities: the newest one */
          for (bi = i; !(x[bi] == sent); bi--) {
          }
        y[j] = (double)(i - bi);
      }
    }
  }
#undef V
}

size_t ndp__roll_extrema_scratch(const ndp__roll_k *k, int64_t m) {
  (void)k;
  return (size_t)m * (sizeof(double) + sizeof(int64_t));
}

void ndp__roll_extrema(const ndp__roll_k *k, const double *x, int64_t m, double *y,
                       void *scratch) {
  double *S = scratch;
  int64_t *SI = (int64_t *)(S + m);
  const int64_t w = k->w, mc = k->minc;
  const int clean = ndp__roll_all_finite(x, m + w - 1); /* inf: the NaN path too */
  switch (k->fn * 2 + clean) {
  case NDP_ROLL_MIN * 2 + 1: ext_block(x, m, w, mc, y, S, SI, 0, 0, 0); break;
  case NDP_ROLL_MIN * 2: ext_block(x, m, w, mc, y, S, SI, 0, 0, 1); break;
  case NDP_ROLL_MAX * 2 + 1: ext_block(x, m, w, mc, y, S, SI, 1, 0, 0); break;
  case NDP_ROLL_MAX * 2: ext_block(x, m, w, mc, y, S, SI, 1, 0, 1); break;
  case NDP_ROLL_ARGMIN * 2 + 1: ext_block(x, m, w, mc, y, S, SI, 0, 1, 0); break;
  case NDP_ROLL_ARGMIN * 2: ext_block(x, m, w, mc, y, S, SI, 0, 1, 1); break;
  case NDP_ROLL_ARGMAX * 2 + 1: ext_block(x, m, w, mc, y, S, SI, 1, 1, 0); break;
  default: ext_block(x, m, w, mc, y, S, SI, 1, 1, 1); break;
  }
}
