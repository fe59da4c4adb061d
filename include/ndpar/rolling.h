/*
 * ndpar/rolling.h - moving-window statistics, parallel inside one series.
 *
 * Semantics follow bottleneck's move_* functions (output has the input's
 * shape; NaN values are skipped; a window with fewer than min_count
 * non-NaN values gives NaN), with two more window placements: centered
 * (pandas' rolling(center=True)) and centered with edge padding (the ends
 * repeat the first and last values, as np.pad(..., mode='edge')).
 * COUNT (bottleneck has none) follows pandas' rolling().count() instead:
 * the number of non-NaN values (0 included), NaN only where the window
 * holds fewer than min_count positions of the series, NaN or not (so
 * with the default min_count = window, NaN exactly where the window
 * reaches outside the series; never with edge padding).
 * Booleans read as NumPy reads them: any nonzero byte is True.
 *
 * A series is cut into blocks whose size depends only on the series length
 * and the window, never on the thread count; each block warms up on the
 * points before it. Results are therefore bit-identical for any number of
 * threads; and, through ndp_rolling_at, for any chunking of the series
 * (blocks sit at global positions, every kernel's result is a function of
 * its window's values and the window's global position).
 *
 * Thread-safety: any thread may call these; they run on the shared pool.
 */
#ifndef NDPAR_ROLLING_H
#define NDPAR_ROLLING_H

#include "export.h"

#include "array.h"
#include "errors.h"
#include "ufunc.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NDP_ROLL_MAP(XX)       \
  XX(SUM, "sum")               \
  XX(MEAN, "mean")             \
  XX(VAR, "var")               \
  XX(STD, "std")               \
  XX(MIN, "min")               \
  XX(MAX, "max")               \
  XX(ARGMIN, "argmin")         \
  XX(ARGMAX, "argmax")         \
  XX(MEDIAN, "median")         \
  XX(QUANTILE, "quantile")     \
  XX(COUNT, "count")

typedef enum ndp_roll_fn {
#define NDP__XX(id, name) NDP_ROLL_##id,
  NDP_ROLL_MAP(NDP__XX)
#undef NDP__XX
  NDP_NROLL
} ndp_roll_fn;

/* Where the window sits relative to output position i (w = window):
 *   TRAILING     a[i-w+1 .. i]                      (bottleneck)
 *   CENTER       a[i-w/2 .. i-w/2+w-1]              (pandas center=True)
 *   CENTER_EDGE  as CENTER, positions outside [0, n) take a[0] or a[n-1]
 * Positions outside the series are absent (not NaN, not zero) for
 * TRAILING and CENTER: they only lower the window's count. */
typedef enum ndp_roll_align {
  NDP_ROLL_TRAILING = 0,
  NDP_ROLL_CENTER,
  NDP_ROLL_CENTER_EDGE
} ndp_roll_align;

typedef struct ndp_roll_opts {
  int64_t window;     /* 1 .. length of the axis; with CENTER_EDGE any
                         window up to 2^40 on a non-empty axis (np.pad) */
  int64_t min_count;  /* 1 .. window; 0 means window (bottleneck's default);
                         COUNT: fewest positions of the series a window
                         must hold (pandas' min_periods) */
  int axis;           /* -ndim .. ndim-1 */
  ndp_roll_align align;
  double q;           /* QUANTILE only: 0 <= q <= 1, linear interpolation
                         between order statistics, as numpy.quantile */
  int ddof;           /* VAR/STD only: divisor is count - ddof (>= 0);
                         fewer than ddof + 1 values give NaN */
} ndp_roll_opts;

/* Function by name ("mean", ...). Returns it (>= 0) or NDP_ENOFUNC. */
NDP_API int ndp_roll_lookup(const char *name);
/* Static name; NULL when out of range. */
NDP_API const char *ndp_roll_name(int fn);

/* Output dtype for an input dtype: float32 for float32, float16 for
 * float16 (as bottleneck; computed in float64 and rounded once), float64
 * for every other numeric dtype (bool included). Returns 0 or NDP_ETYPE. ARGMIN and
 * ARGMAX give the position of the extreme counted back from the window's
 * last position (0 = the newest point), as bottleneck, in that float type;
 * COUNT gives the count of non-NaN values (pandas' semantics, above). */
NDP_API int ndp_roll_out_dtype(int fn, ndp_dtype in, ndp_dtype *out);

/* out = fn over moving windows of `in` along opts->axis. `out` must have
 * in's shape and the dtype ndp_roll_out_dtype gives. If out overlaps in
 * (in place included), the input is copied first. Any strides, either
 * byte order.
 * Returns 0, NDP_EINVAL (bad window, min_count, axis, q, ddof: the message
 * names the argument), NDP_ETYPE, NDP_ESHAPE, NDP_ENOMEM or
 * NDP_ECANCELED. */
NDP_API int ndp_rolling(int fn, const ndp_array *in, const ndp_array *out,
                        const ndp_roll_opts *opts, const ndp_exec *ex,
                        ndp_status *st);

/* ndp_rolling for one chunk of a longer series: `anchor` (>= 0, at most
 * 2^62) is the global index, in the whole series, of in's first element
 * along the axis. The internal blocks then sit where they sit for the
 * whole series, so every output whose window lies inside the chunk is
 * bit-identical to the whole series' output at the same global index
 * (anchor + i); outputs whose windows reach outside the chunk (the first
 * w - 1 trailing, the first w / 2 and last w - 1 - w / 2 centered: the
 * overlap a chunked caller discards) see the chunk's ends as the series'
 * ends. anchor = 0 is ndp_rolling. Errors as ndp_rolling, NDP_EINVAL for
 * a bad anchor. */
NDP_API int ndp_rolling_at(int fn, const ndp_array *in, const ndp_array *out,
                           const ndp_roll_opts *opts, int64_t anchor,
                           const ndp_exec *ex, ndp_status *st);

#ifdef __cplusplus
}
#endif
#endif /* NDPAR_ROLLING_H */
