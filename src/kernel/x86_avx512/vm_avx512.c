/*
 * kernel/x86_avx512/vm_avx512.c - the kernel VM's loops compiled with
 * AVX-512 flags (8 doubles a step). Only called after the CPU was found
 * to support avx512.
 */
#define NDP_KVM_NAME ndp__kvm_run_avx512
#include "kernel/vm_body.h"
