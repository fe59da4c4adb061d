/*
 * kernel/x86_avx2/vm_avx2.c - the kernel VM's loops compiled with this
 * directory's -mavx2 -mfma flags (auto-vectorized, 4 doubles a step).
 * Only called after the CPU was found to support avx2.
 */
#define NDP_KVM_NAME ndp__kvm_run_avx2
#include "kernel/vm_body.h"
