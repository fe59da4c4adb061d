/*
 * kernel/vm_loop.h - the kernel VM's instruction handlers, included twice
 * by vm_body.h: with KVM_FULL 1 every loop runs the whole block (a
 * constant trip count the compiler unrolls), with KVM_FULL 0 the first nv
 * lanes of a compacted while loop. KF(name) names this variant's copy.
 */
static int KF(any)(const int64_t *m, int nv) {
  int64_t acc = 0;
  LOOP acc |= m[i];
  return acc != 0;
}

/* d = dtype src at base + off[i] (+ j*stride), as storage st */
#define LOADT(T)                                                              \
  switch (st) {                                                               \
  case ST_I: {                                                                \
    int64_t *o = RI(dreg);                                                    \
    LOOP o[i] = (int64_t)*(const T *)(base + addr[i]);                        \
  } break;                                                                    \
  case ST_D: {                                                                \
    double *o = RD(dreg);                                                     \
    LOOP o[i] = (double)*(const T *)(base + addr[i]);                         \
  } break;                                                                    \
  default: {                                                                  \
    float *o = RF(dreg);                                                      \
    LOOP o[i] = (float)*(const T *)(base + addr[i]);                          \
  } break;                                                                    \
  }

static void KF(load_lanes)(ndp__kframe *f, int dreg, int st, ndp_dtype dt, const char *base,
                       const int64_t *addr, int nv) {
  switch (dt) {
  case NDP_BOOL: {
    int64_t *o = RI(dreg);
    double *od = RD(dreg);
    float *of = RF(dreg);
    if (st == ST_I) LOOP o[i] = *(const uint8_t *)(base + addr[i]) != 0;
    else if (st == ST_D) LOOP od[i] = *(const uint8_t *)(base + addr[i]) != 0;
    else LOOP of[i] = *(const uint8_t *)(base + addr[i]) != 0;
  } break;
  case NDP_INT8: LOADT(int8_t) break;
  case NDP_UINT8: LOADT(uint8_t) break;
  case NDP_INT16: LOADT(int16_t) break;
  case NDP_UINT16: LOADT(uint16_t) break;
  case NDP_INT32: LOADT(int32_t) break;
  case NDP_UINT32: LOADT(uint32_t) break;
  case NDP_INT64: case NDP_UINT64: LOADT(int64_t) break;
  case NDP_FLOAT32: LOADT(float) break;
  default: LOADT(double) break;
  }
}

/* stores storage st lanes of register v where m is set */
#define STORET(T)                                                             \
  switch (st) {                                                               \
  case ST_I: {                                                                \
    const int64_t *v = RI(vreg);                                              \
    LOOP if (m[i]) *(T *)(base + addr[i]) = (T)v[i];                          \
  } break;                                                                    \
  case ST_D: {                                                                \
    const double *v = RD(vreg);                                               \
    LOOP if (m[i]) *(T *)(base + addr[i]) = (T)v[i];                          \
  } break;                                                                    \
  default: {                                                                  \
    const float *v = RF(vreg);                                                \
    LOOP if (m[i]) *(T *)(base + addr[i]) = (T)v[i];                          \
  } break;                                                                    \
  }

static void KF(store_lanes)(ndp__kframe *f, int vreg, int st, ndp_dtype dt, char *base,
                        const int64_t *addr, const int64_t *m, int nv) {
  int64_t all = 1;
  LOOP all &= m[i];
  if (all && st == ST_D && dt == NDP_FLOAT64) {
    const double *v = RD(vreg);
    LOOP *(double *)(base + addr[i]) = v[i];
    return;
  }
  if (all && st == ST_I && dt == NDP_INT64) {
    const int64_t *v = RI(vreg);
    LOOP *(int64_t *)(base + addr[i]) = v[i];
    return;
  }
  switch (dt) {
  case NDP_BOOL: {
    if (st == ST_I) {
      const int64_t *v = RI(vreg);
      LOOP if (m[i]) *(uint8_t *)(base + addr[i]) = v[i] != 0;
    } else if (st == ST_D) {
      const double *v = RD(vreg);
      LOOP if (m[i]) *(uint8_t *)(base + addr[i]) = v[i] != 0;
    } else {
      const float *v = RF(vreg);
      LOOP if (m[i]) *(uint8_t *)(base + addr[i]) = v[i] != 0;
    }
  } break;
  /* float into an integer dtype is refused by the compiler and by eval's
   * casting check, so these conversions are defined */
  case NDP_INT8: if (st == ST_I) { const int64_t *v = RI(vreg); LOOP if (m[i]) *(int8_t *)(base + addr[i]) = (int8_t)(uint8_t)v[i]; } break;
  case NDP_UINT8: if (st == ST_I) { const int64_t *v = RI(vreg); LOOP if (m[i]) *(uint8_t *)(base + addr[i]) = (uint8_t)v[i]; } break;
  case NDP_INT16: if (st == ST_I) { const int64_t *v = RI(vreg); LOOP if (m[i]) *(int16_t *)(base + addr[i]) = (int16_t)(uint16_t)v[i]; } break;
  case NDP_UINT16: if (st == ST_I) { const int64_t *v = RI(vreg); LOOP if (m[i]) *(uint16_t *)(base + addr[i]) = (uint16_t)v[i]; } break;
  case NDP_INT32: if (st == ST_I) { const int64_t *v = RI(vreg); LOOP if (m[i]) *(int32_t *)(base + addr[i]) = (int32_t)(uint32_t)v[i]; } break;
  case NDP_UINT32: if (st == ST_I) { const int64_t *v = RI(vreg); LOOP if (m[i]) *(uint32_t *)(base + addr[i]) = (uint32_t)v[i]; } break;
  case NDP_INT64: case NDP_UINT64: if (st == ST_I) { const int64_t *v = RI(vreg); LOOP if (m[i]) *(int64_t *)(base + addr[i]) = v[i]; } break;
  case NDP_FLOAT32: STORET(float) break;
  default: STORET(double) break;
  }
}

/* Byte addresses of element (i0[, i1]) of argument a for each lane, into
 * addr; negative indices count from the end. Returns 0, or NDP_EINDEX when
 * an active lane is out of range. */
static int KF(elem_addr)(ndp__kframe *f, const ndp_kernel *k, const ndp__kins *in, int64_t *addr) {
  const int nv = KVM_NV(f), a = in->aux;
  const int64_t *off = RI(k->off_reg[a]), *m = RI(in->c);
  const int64_t len0 = f->core_shape[a][0], s0 = f->core_stride[a][0];
  const int64_t *j0 = RI(in->a);
  int64_t bad = 0;
  if (in->b < 0) {
    if (len0 == 0) {
      if (KF(any)(m, nv)) return kfail(f, NDP_EINDEX, in->line, "index out of range (axis of length 0)");
      LOOP addr[i] = off[i];
      return 1; /* nothing valid to read */
    }
    int64_t diff = 0, jj = j0[0];
    LOOP diff |= j0[i] ^ jj;
    if (jj < 0) jj += len0;
    if (!diff && (uint64_t)jj < (uint64_t)len0) { /* lanes in lockstep: one index */
      LOOP addr[i] = off[i] + jj * s0;
    } else {
      LOOP {
        int64_t j = j0[i] < 0 ? j0[i] + len0 : j0[i];
        int64_t ok = (uint64_t)j < (uint64_t)len0;
        bad |= m[i] & !ok;
        addr[i] = off[i] + (ok ? j : 0) * s0;
      }
    }
    /* each lane walks its own row: with many rows in flight the hardware
     * prefetcher loses track, so fetch a few lines ahead along the row
     * (a prefetch never faults, even past the end) */
    if (s0 > 0 && s0 <= 16 && ((addr[0] + 8 * s0) & 63) < 8 * s0) {
      /* once per cache line of lane 0's row (lanes in lockstep) */
      const char *base = f->data[a];
      if (in->op == K_STORE)
        for (int i = 0; i < nv; i++) __builtin_prefetch(base + addr[i] + 512, 1, 3);
      else
        for (int i = 0; i < nv; i++) __builtin_prefetch(base + addr[i] + 512, 0, 3);
    }
  } else {
    const int64_t len1 = f->core_shape[a][1], s1 = f->core_stride[a][1];
    const int64_t *j1 = RI(in->b);
    if (len0 == 0 || len1 == 0) {
      if (KF(any)(m, nv)) return kfail(f, NDP_EINDEX, in->line, "index out of range (axis of length 0)");
      LOOP addr[i] = off[i];
      return 1;
    }
    LOOP {
      int64_t ja = j0[i] < 0 ? j0[i] + len0 : j0[i];
      int64_t jb = j1[i] < 0 ? j1[i] + len1 : j1[i];
      int64_t ok = ((uint64_t)ja < (uint64_t)len0) & ((uint64_t)jb < (uint64_t)len1);
      bad |= m[i] & !ok;
      addr[i] = off[i] + (ok ? ja : 0) * s0 + (ok ? jb : 0) * s1;
    }
  }
  if (bad) return kfail(f, NDP_EINDEX, in->line, "index out of range");
  return 0;
}

static int KF(run)(const ndp_kernel *k, ndp__kframe *f, kvm_state *s) {
  const ndp__kins *code = k->code;
  const int n = f->n;
#if KVM_FULL
  enum { nv = NDP__KB };
#else
  int nv = f->nv;
#endif
  int64_t addr[NDP__KB];
  int pc = s->pc, rc;
  f->nv = nv;
  /* threaded dispatch: each handler jumps to the next one itself, so the
   * indirect jumps are predicted per opcode (GNU labels as values) */
  static const void *const labels[K_NOPS] = {
#define NDP__XX(x) [K_##x] = &&L_K_##x,
      NDP__KOP_MAP(NDP__XX)
#undef NDP__XX
  };
  const ndp__kins *in;
#define NEXT                          \
  do {                                \
    in = &code[pc++];                 \
    goto *labels[in->op];             \
  } while (0)
  NEXT;
  {
    {
    L_K_ADD: BIN((int64_t)(U64(a[i]) + U64(b[i])), a[i] + b[i], a[i] + b[i]) NEXT;
    L_K_SUB: BIN((int64_t)(U64(a[i]) - U64(b[i])), a[i] - b[i], a[i] - b[i]) NEXT;
    L_K_MUL: BIN((int64_t)(U64(a[i]) * U64(b[i])), a[i] * b[i], a[i] * b[i]) NEXT;
    L_K_DIV: BIN(0, a[i] / b[i], a[i] / b[i]) NEXT;
    L_K_MIN: BIN(b[i] < a[i] ? b[i] : a[i], b[i] < a[i] ? b[i] : a[i], b[i] < a[i] ? b[i] : a[i]) NEXT;
    L_K_MAX: BIN(b[i] > a[i] ? b[i] : a[i], b[i] > a[i] ? b[i] : a[i], b[i] > a[i] ? b[i] : a[i]) NEXT;
    L_K_BAND: BIN(a[i] & b[i], 0, 0) NEXT;
    L_K_BOR: BIN(a[i] | b[i], 0, 0) NEXT;
    L_K_BXOR: BIN(a[i] ^ b[i], 0, 0) NEXT;
    L_K_ANDNOT: BIN(a[i] & ~b[i], 0, 0) NEXT;
    L_K_COPYSIGN: BIN(0, copysign(a[i], b[i]), copysignf(a[i], b[i])) NEXT;
    L_K_FMOD: BIN(0, fmod(a[i], b[i]), fmodf(a[i], b[i])) NEXT;
    L_K_FLOORDIV:
      if (in->st == ST_I) {
        int64_t *d = RI(in->d);
        const int64_t *a = RI(in->a), *b = RI(in->b), *m = RI(in->c);
        int64_t bad = 0;
        LOOP {
          int64_t y = b[i] == 0 ? 1 : b[i];
          bad |= m[i] & (b[i] == 0);
          int64_t q, x = a[i];
          if (y == -1) q = (int64_t)(0 - U64(x));
          else {
            q = x / y;
            if ((x % y != 0) && ((x < 0) != (y < 0))) q--;
          }
          d[i] = q;
        }
        if (bad) return kfail(f, NDP_EDOMAIN, in->line, "integer division or modulo by zero");
      } else {
        BIN(0, pyfloordiv_d(a[i], b[i]), pyfloordiv_f(a[i], b[i]))
      }
      NEXT;
    L_K_MOD:
      if (in->st == ST_I) {
        int64_t *d = RI(in->d);
        const int64_t *a = RI(in->a), *b = RI(in->b), *m = RI(in->c);
        int64_t bad = 0;
        LOOP {
          int64_t y = b[i] == 0 ? 1 : b[i];
          bad |= m[i] & (b[i] == 0);
          int64_t r = y == -1 ? 0 : a[i] % y;
          if (r != 0 && ((r < 0) != (y < 0))) r += y;
          d[i] = r;
        }
        if (bad) return kfail(f, NDP_EDOMAIN, in->line, "integer division or modulo by zero");
      } else {
        BIN(0, pymod_d(a[i], b[i]), pymod_f(a[i], b[i]))
      }
      NEXT;
    L_K_POW: {
      int64_t *d = RI(in->d);
      const int64_t *a = RI(in->a), *b = RI(in->b), *m = RI(in->c);
      int64_t bad = 0;
      LOOP {
        bad |= m[i] & (b[i] < 0);
        uint64_t base = U64(a[i]), r = 1;
        int64_t e = b[i] < 0 ? 0 : b[i];
        while (e) {
          if (e & 1) r *= base;
          base *= base;
          e >>= 1;
        }
        d[i] = (int64_t)r;
      }
      if (bad)
        return kfail(f, NDP_EDOMAIN, in->line,
                     "integer to a negative integer power (kernel ints are int64; write a float "
                     "base such as 2.0 ** n)");
    } NEXT;
    L_K_EQ: CMP(==) NEXT;
    L_K_NE: CMP(!=) NEXT;
    L_K_LT: CMP(<) NEXT;
    L_K_LE: CMP(<=) NEXT;
    L_K_GT: CMP(>) NEXT;
    L_K_GE: CMP(>=) NEXT;
    L_K_NEG: UNI((int64_t)(0 - U64(a[i])), -a[i], -a[i]) NEXT;
    L_K_ABS: UNI(a[i] < 0 ? (int64_t)(0 - U64(a[i])) : a[i], fabs(a[i]), fabsf(a[i])) NEXT;
    L_K_BNOT: UNI(~a[i], 0, 0) NEXT;
    L_K_NOT: {
      int64_t *d = RI(in->d);
      const int64_t *a = RI(in->a);
      LOOP d[i] = a[i] == 0;
    } NEXT;
    L_K_TRUTH: {
      int64_t *d = RI(in->d);
      if (in->st == ST_I) {
        const int64_t *a = RI(in->a);
        LOOP d[i] = a[i] != 0;
      } else if (in->st == ST_D) {
        const double *a = RD(in->a);
        LOOP d[i] = a[i] != 0;
      } else {
        const float *a = RF(in->a);
        LOOP d[i] = a[i] != 0;
      }
    } NEXT;
    L_K_MOV:
      if (in->d != in->a) memcpy(RI(in->d), RI(in->a), (size_t)nv * 8);
      NEXT;
    L_K_I2D: {
      double *d = RD(in->d);
      const int64_t *a = RI(in->a);
      LOOP d[i] = (double)a[i];
    } NEXT;
    L_K_I2F: {
      float *d = RF(in->d);
      const int64_t *a = RI(in->a);
      LOOP d[i] = (float)a[i];
    } NEXT;
    L_K_F2D: {
      double *d = RD(in->d);
      const float *a = RF(in->a);
      LOOP d[i] = (double)a[i];
    } NEXT;
    L_K_D2F: {
      float *d = RF(in->d);
      const double *a = RD(in->a);
      LOOP d[i] = (float)a[i];
    } NEXT;
    L_K_D2I: {
      int64_t *d = RI(in->d);
      const double *a = RD(in->a);
      const int64_t *m = RI(in->c);
      int64_t nan = 0, big = 0;
      LOOP {
        double x = a[i];
        int64_t isn = x != x;
        int64_t ok = (x >= -9223372036854775808.0) & (x < 9223372036854775808.0);
        nan |= m[i] & isn;
        big |= m[i] & !ok & !isn;
        d[i] = ok ? (int64_t)x : 0;
      }
      if (nan) return kfail(f, NDP_EDOMAIN, in->line, "cannot convert float NaN to integer");
      if (big)
        return kfail(f, NDP_EOVERFLOW, in->line,
                     "cannot convert float infinity or a float beyond int64 to integer");
    } NEXT;
    L_K_SEL: {
      const int64_t *c = RI(in->c);
      if (in->st == ST_F) {
        float *d = RF(in->d);
        const float *a = RF(in->a), *b = RF(in->b);
        LOOP d[i] = c[i] ? a[i] : b[i];
      } else {
        int64_t *d = RI(in->d);
        const int64_t *a = RI(in->a), *b = RI(in->b);
        LOOP d[i] = c[i] ? a[i] : b[i];
      }
    } NEXT;
    L_K_MOVM: {
      const int64_t *m = RI(in->c);
      if (in->st == ST_F) {
        float *d = RF(in->d);
        const float *a = RF(in->a);
        LOOP d[i] = m[i] ? a[i] : d[i];
      } else {
        int64_t *d = RI(in->d);
        const int64_t *a = RI(in->a);
        LOOP d[i] = m[i] ? a[i] : d[i];
      }
    } NEXT;
    L_K_FILL0: memset(RI(in->d), 0, (size_t)nv * 8); NEXT;
    L_K_RANGECOND: {
      int64_t *d = RI(in->d);
      const int64_t *a = RI(in->a), *b = RI(in->b), *c = RI(in->c);
      LOOP d[i] = b[i] > 0 ? a[i] < c[i] : a[i] > c[i];
    } NEXT;
    L_K_CHKSTEP: {
      const int64_t *a = RI(in->a), *m = RI(in->c);
      int64_t bad = 0;
      LOOP bad |= m[i] & (a[i] == 0);
      if (bad) return kfail(f, NDP_EDOMAIN, in->line, "range() arg 3 must not be zero");
    } NEXT;
    L_K_CALL1:
      if ((rc = run_call(f, in, 1))) return rc;
      NEXT;
    L_K_CALL2:
      if ((rc = run_call(f, in, 2))) return rc;
      NEXT;
    L_K_LOADARG:
      KF(load_lanes)(f, in->d, in->st, f->dtype[in->aux], f->data[in->aux],
                 RI(k->off_reg[in->aux]), nv);
      NEXT;
    L_K_LOAD:
      rc = KF(elem_addr)(f, k, in, addr);
      if (rc < 0) return rc;
      if (rc == 1) memset(RI(in->d), 0, (size_t)nv * 8);
      else KF(load_lanes)(f, in->d, in->st, f->dtype[in->aux], f->data[in->aux], addr, nv);
      NEXT;
    L_K_STORE:
      rc = KF(elem_addr)(f, k, in, addr);
      if (rc < 0) return rc;
      if (rc == 0)
        KF(store_lanes)(f, (int)in->imm, in->st, f->dtype[in->aux], f->data[in->aux], addr,
                    RI(in->c), nv);
      NEXT;
    L_K_DIM: {
      int64_t *d = RI(in->d), v = f->core_shape[in->aux][in->imm];
      LOOP d[i] = v;
    } NEXT;
    L_K_JMP: /* a loop's back-edge: also polls for cancellation */
      if ((++f->checks & 15) == 0) {
        if (atomic_load_explicit(f->cancel, memory_order_relaxed))
          return ndp__fail(f->st, NDP_ECANCELED, "kernel: cancelled");
        if (f->poll && f->poll(f->poll_ud))
          return ndp__fail(f->st, NDP_ECANCELED, "kernel: cancelled");
      }
      pc = (int)in->imm;
      NEXT;
    L_K_FORU: { /* a range loop whose bounds are the same in every lane: lane 0 decides */
      int64_t a = RI(in->a)[0], b = RI(in->b)[0];
      int go = in->aux == 0 ? a < b : in->aux == 1 ? a > b : (RI(in->c)[0] > 0 ? a < b : a > b);
      if (!go) pc = (int)in->imm;
    } NEXT;
#if KVM_FULL
    L_K_WCOMPACT: {
      int m = compact(k, f, &s->cs, in->aux, nv);
      if (m < nv) { /* continue in the loops over fewer lanes */
        f->nv = m;
        s->pc = pc;
        return KVM_SWITCH;
      }
    } NEXT;
    L_K_WEND: NEXT; /* with every lane in flight no loop is compacted */
#else
    L_K_WCOMPACT:
      nv = compact(k, f, &s->cs, in->aux, nv);
      f->nv = nv;
      NEXT;
    L_K_WEND:
      nv = uncompact(k, f, &s->cs, in->aux, nv);
      f->nv = nv;
      if (nv == NDP__KB) { /* back to the loops over the whole block */
        s->pc = pc;
        return KVM_SWITCH;
      }
      NEXT;
#endif
    L_K_JZ:
      if (!KF(any)(RI(in->a), nv)) pc = (int)in->imm;
      NEXT;
    L_K_CHECK:
      if ((++f->checks & 15) == 0) {
        if (atomic_load_explicit(f->cancel, memory_order_relaxed))
          return ndp__fail(f->st, NDP_ECANCELED, "kernel: cancelled");
        if (f->poll && f->poll(f->poll_ud))
          return ndp__fail(f->st, NDP_ECANCELED, "kernel: cancelled");
      }
      NEXT;
    L_K_MULADD: {
      if (in->st == ST_D) {
        double *d = RD(in->d);
        const double *a = RD(in->a), *b = RD(in->b), *c = RD(in->c);
        LOOP { double t = a[i] * b[i]; d[i] = t + c[i]; }
      } else {
        float *d = RF(in->d);
        const float *a = RF(in->a), *b = RF(in->b), *c = RF(in->c);
        LOOP { float t = a[i] * b[i]; d[i] = t + c[i]; }
      }
    } NEXT;
    L_K_MULSUB: {
      if (in->st == ST_D) {
        double *d = RD(in->d);
        const double *a = RD(in->a), *b = RD(in->b), *c = RD(in->c);
        LOOP { double t = a[i] * b[i]; d[i] = t - c[i]; }
      } else {
        float *d = RF(in->d);
        const float *a = RF(in->a), *b = RF(in->b), *c = RF(in->c);
        LOOP { float t = a[i] * b[i]; d[i] = t - c[i]; }
      }
    } NEXT;
    L_K_RMULSUB: {
      if (in->st == ST_D) {
        double *d = RD(in->d);
        const double *a = RD(in->a), *b = RD(in->b), *c = RD(in->c);
        LOOP { double t = a[i] * b[i]; d[i] = c[i] - t; }
      } else {
        float *d = RF(in->d);
        const float *a = RF(in->a), *b = RF(in->b), *c = RF(in->c);
        LOOP { float t = a[i] * b[i]; d[i] = c[i] - t; }
      }
    } NEXT;
    L_K_CMPAND: {
      int64_t *d = RI(in->d);
      const int64_t *c = RI(in->c);
#define CMPA(T, R, OP)                                                        \
  {                                                                           \
    const T *a = R(in->a), *b = R(in->b);                                     \
    LOOP d[i] = c[i] & (int64_t)(a[i] OP b[i]);                               \
  }
#define CMPS(OP)                                                              \
  if (in->st == ST_I) CMPA(int64_t, RI, OP)                                   \
  else if (in->st == ST_D) CMPA(double, RD, OP)                               \
  else CMPA(float, RF, OP)
      switch (in->aux) {
      case 0: CMPS(==) break;
      case 1: CMPS(!=) break;
      case 2: CMPS(<) break;
      case 3: CMPS(<=) break;
      case 4: CMPS(>) break;
      default: CMPS(>=) break;
      }
#undef CMPS
#undef CMPA
    } NEXT;
    L_K_OPM: {
      const int64_t *m = RI(in->c);
      if (in->st == ST_I) {
        int64_t *d = RI(in->d);
        const int64_t *a = RI(in->a), *b = RI(in->b);
        if (in->aux == K_ADD) LOOP d[i] = m[i] ? (int64_t)(U64(a[i]) + U64(b[i])) : d[i];
        else LOOP d[i] = m[i] ? (int64_t)(U64(a[i]) - U64(b[i])) : d[i];
      } else if (in->st == ST_D) {
        double *d = RD(in->d);
        const double *a = RD(in->a), *b = RD(in->b);
        if (in->aux == K_ADD) LOOP { __typeof__(d[0]) t = a[i] + b[i]; d[i] = m[i] ? t : d[i]; }
        else if (in->aux == K_SUB) LOOP { __typeof__(d[0]) t = a[i] - b[i]; d[i] = m[i] ? t : d[i]; }
        else LOOP { __typeof__(d[0]) t = a[i] * b[i]; d[i] = m[i] ? t : d[i]; }
      } else {
        float *d = RF(in->d);
        const float *a = RF(in->a), *b = RF(in->b);
        if (in->aux == K_ADD) LOOP { __typeof__(d[0]) t = a[i] + b[i]; d[i] = m[i] ? t : d[i]; }
        else if (in->aux == K_SUB) LOOP { __typeof__(d[0]) t = a[i] - b[i]; d[i] = m[i] ? t : d[i]; }
        else LOOP { __typeof__(d[0]) t = a[i] * b[i]; d[i] = m[i] ? t : d[i]; }
      }
    } NEXT;
    L_K_END:
      if (k->has_result) {
        const int64_t *r = RI(1);
        int64_t miss = 0;
        for (int i = 0; i < n; i++) miss |= !r[i];
        if (miss)
          return ndp__kfail(f->st, NDP_EUSER, in->line,
                            "%s() reached its end without a return for some element (Python "
                            "would return None)", k->func);
      }
      return 0;
    }
  }
#undef NEXT
}

