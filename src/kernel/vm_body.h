/*
 * kernel/vm_body.h - the kernel VM's instruction loops, one block of lanes
 * per call. Included once per instruction-set directory (ref/,
 * x86_avx2/, x86_avx512/) with NDP_KVM_NAME set, so the same plain C
 * loops over the block are auto-vectorized with that directory's flags.
 *
 * Every instruction runs over the first nv lanes of its registers (the
 * whole block, or fewer inside a compacted while loop: see kcompact).
 * Arithmetic runs on all of them (inactive lanes compute values nobody
 * reads); MOVM,
 * STORE and the instructions that can fail look at the mask register c.
 * Transcendentals call the elementwise kernel table (SLEEF or libm).
 * Integer +, -, * and negation wrap (computed as uint64).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernel/kernel_internal.h"

#define KB_BYTES ((size_t)NDP__KB * 8)
#define RI(r) ((int64_t *)(f->regs + (size_t)(r) * KB_BYTES))
#define RD(r) ((double *)(f->regs + (size_t)(r) * KB_BYTES))
#define RF(r) ((float *)(f->regs + (size_t)(r) * KB_BYTES))

/* d = EXPR over a, b for each storage type */
#define BIN(EI, ED, EF)                                                       \
  switch (in->st) {                                                           \
  case ST_I: {                                                                \
    int64_t *d = RI(in->d);                                                   \
    const int64_t *a = RI(in->a), *b = RI(in->b);                             \
    (void)a; (void)b;                                                         \
    LOOP d[i] = EI;                                                           \
  } break;                                                                    \
  case ST_D: {                                                                \
    double *d = RD(in->d);                                                    \
    const double *a = RD(in->a), *b = RD(in->b);                              \
    (void)a; (void)b;                                                         \
    LOOP d[i] = ED;                                                           \
  } break;                                                                    \
  default: {                                                                  \
    float *d = RF(in->d);                                                     \
    const float *a = RF(in->a), *b = RF(in->b);                               \
    (void)a; (void)b;                                                         \
    LOOP d[i] = EF;                                                           \
  } break;                                                                    \
  }

/* comparisons: int64 0/1 result */
#define CMP(OP)                                                               \
  {                                                                           \
    int64_t *d = RI(in->d);                                                   \
    if (in->st == ST_I) {                                                     \
      const int64_t *a = RI(in->a), *b = RI(in->b);                           \
      LOOP d[i] = a[i] OP b[i];                                               \
    } else if (in->st == ST_D) {                                              \
      const double *a = RD(in->a), *b = RD(in->b);                            \
      LOOP d[i] = a[i] OP b[i];                                               \
    } else {                                                                  \
      const float *a = RF(in->a), *b = RF(in->b);                             \
      LOOP d[i] = a[i] OP b[i];                                               \
    }                                                                         \
  }

#define UNI(EI, ED, EF)                                                       \
  switch (in->st) {                                                           \
  case ST_I: {                                                                \
    int64_t *d = RI(in->d);                                                   \
    const int64_t *a = RI(in->a);                                             \
    LOOP d[i] = EI;                                                           \
  } break;                                                                    \
  case ST_D: {                                                                \
    double *d = RD(in->d);                                                    \
    const double *a = RD(in->a);                                              \
    (void)a;                                                                  \
    LOOP d[i] = ED;                                                           \
  } break;                                                                    \
  default: {                                                                  \
    float *d = RF(in->d);                                                     \
    const float *a = RF(in->a);                                               \
    (void)a;                                                                  \
    LOOP d[i] = EF;                                                           \
  } break;                                                                    \
  }

#define U64(x) ((uint64_t)(x))

static inline double pyfloordiv_d(double a, double b) {
  if (b == 0) return a / b;
  double mod = fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0) {
    if ((b < 0) != (mod < 0)) div -= 1.0;
  }
  if (div != 0) {
    double fd = floor(div);
    if (div - fd > 0.5) fd += 1.0;
    return fd;
  }
  return copysign(0.0, a / b);
}
static inline float pyfloordiv_f(float a, float b) {
  if (b == 0) return a / b;
  float mod = fmodf(a, b);
  float div = (a - mod) / b;
  if (mod != 0) {
    if ((b < 0) != (mod < 0)) div -= 1.0f;
  }
  if (div != 0) {
    float fd = floorf(div);
    if (div - fd > 0.5f) fd += 1.0f;
    return fd;
  }
  return copysignf(0.0f, a / b);
}
static inline double pymod_d(double a, double b) {
  double mod = fmod(a, b);
  if (mod != 0) {
    if ((b < 0) != (mod < 0)) mod += b;
  } else mod = copysign(0.0, b);
  return mod;
}
static inline float pymod_f(float a, float b) {
  float mod = fmodf(a, b);
  if (mod != 0) {
    if ((b < 0) != (mod < 0)) mod += b;
  } else mod = copysignf(0.0f, b);
  return mod;
}

#define KVM_SWITCH 1000 /* a variant returns this to hand over to the other */

static int kfail(ndp__kframe *f, int code, int line, const char *msg) {
  return ndp__kfail(f->st, code, line, "%s", msg);
}

static int run_call(ndp__kframe *f, const ndp__kins *in, int nin) {
  ndp_dtype dt = in->st == ST_D ? NDP_FLOAT64 : in->st == ST_F ? NDP_FLOAT32 : NDP_INT64;
  ndp__loop_fn fn = f->kt->fn[in->aux][dt];
  if (!fn) return kfail(f, NDP_ETYPE, in->line, "no kernel for this function and type");
  const char *args[2] = {(const char *)RI(in->a), nin > 1 ? (const char *)RI(in->b) : NULL};
  int rc = fn(args, (char *)RI(in->d), (size_t)f->nv);
  if (rc) return kfail(f, rc, in->line, "function failed");
  return 0;
}

/* Lane compaction of while loops. When at most nv - 16 lanes of the nv in
 * flight are still looping, the live lanes are gathered to the front of
 * every register and the instructions run over the first
 * round_up(count, 16) lanes only; the loop's exit scatters them back.
 * Lanes are independent, so the bits of every lane's result are the same
 * as without compaction; nv stays a multiple of 16 so the elementwise
 * kernel table never takes a different path for a tail. Only registers
 * that can be live at a loop top are moved with their true layout: float32
 * locals (and a float32 result) hold 4-byte lanes, every other register
 * 8-byte lanes (a dead temporary moved as the wrong layout is garbage
 * nobody reads); constants are the same in every lane and stay. */
typedef struct kcompact {
  uint64_t on;                            /* bit d: the loop at depth d compacted */
  int saved_nv[NDP__KMAXDEPTH];
  uint8_t perm[NDP__KMAXDEPTH][NDP__KB];  /* current lane j holds entry lane perm[j] */
} kcompact;

typedef struct kvm_state {
  int pc;
  kcompact cs;
} kvm_state;

static void permute_regs(const ndp_kernel *k, ndp__kframe *f, const uint8_t *p, int len, int inverse) {
  int nr = k->nregs - k->nconsts;
  for (int r = 0; r < nr; r++) {
    if ((k->freg[r >> 3] >> (r & 7)) & 1) {
      float *v = RF(r), t[NDP__KB];
      if (inverse) for (int j = 0; j < len; j++) t[p[j]] = v[j];
      else for (int j = 0; j < len; j++) t[j] = v[p[j]];
      memcpy(v, t, sizeof *t * (size_t)len);
    } else {
      int64_t *v = RI(r), t[NDP__KB];
      if (inverse) for (int j = 0; j < len; j++) t[p[j]] = v[j];
      else for (int j = 0; j < len; j++) t[j] = v[p[j]];
      memcpy(v, t, sizeof *t * (size_t)len);
    }
  }
}

/* returns the new lane count */
static int compact(const ndp_kernel *k, ndp__kframe *f, kcompact *cs, int d, int nv) {
  const int64_t *m = RI(0);
  int cnt = 0;
  for (int i = 0; i < nv; i++) cnt += m[i] != 0;
  if (nv <= 16 || 2 * cnt > nv) return nv;
  uint8_t p[NDP__KB];
  int w = 0;
  for (int i = 0; i < nv; i++)
    if (m[i]) p[w++] = (uint8_t)i;
  for (int i = 0; i < nv; i++)
    if (!m[i]) p[w++] = (uint8_t)i;
  permute_regs(k, f, p, nv, 0);
  uint8_t *c = cs->perm[d];
  if (!((cs->on >> d) & 1)) {
    cs->on |= (uint64_t)1 << d;
    cs->saved_nv[d] = nv;
    memcpy(c, p, (size_t)nv);
  } else {
    uint8_t t[NDP__KB];
    for (int j = 0; j < nv; j++) t[j] = c[p[j]];
    memcpy(c, t, (size_t)nv);
  }
  return (cnt + 15) & ~15;
}

static int uncompact(const ndp_kernel *k, ndp__kframe *f, kcompact *cs, int d, int nv) {
  if (!((cs->on >> d) & 1)) return nv;
  cs->on &= ~((uint64_t)1 << d);
  permute_regs(k, f, cs->perm[d], cs->saved_nv[d], 1);
  return cs->saved_nv[d];
}

/* the whole block: constant trip counts */
#define KVM_FULL 1
#define KF(x) x##_full
#define KVM_NV(f) NDP__KB
#define LOOP for (int i = 0; i < nv; i++)
#include "kernel/vm_loop.h"
#undef LOOP
#undef KVM_NV
#undef KF
#undef KVM_FULL

/* the first nv lanes (a multiple of 16) of a compacted while loop; the
 * pragma drops the vectorizer's aliasing checks (a destination is either
 * a distinct register or the same one, read at the same lane first; GCC) */
#if defined(__clang__)
#define KVM_IVDEP /* clang's assume_safety warns where it cannot vectorize */
#else
#define KVM_IVDEP _Pragma("GCC ivdep") _Pragma("GCC unroll 4")
#endif
#define KVM_FULL 0
#define KF(x) x##_part
#define KVM_NV(f) ((f)->nv)
#define LOOP KVM_IVDEP for (int i = 0; i < nv; i++)
#include "kernel/vm_loop.h"
#undef LOOP
#undef KVM_NV
#undef KF
#undef KVM_FULL

int NDP_KVM_NAME(const ndp_kernel *k, ndp__kframe *f) {
  kvm_state s;
  s.pc = 0;
  s.cs.on = 0;
  for (;;) {
    int rc = run_full(k, f, &s);
    if (rc != KVM_SWITCH) return rc;
    rc = run_part(k, f, &s);
    if (rc != KVM_SWITCH) return rc;
  }
}
