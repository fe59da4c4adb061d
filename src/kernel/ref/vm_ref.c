/*
 * kernel/ref/vm_ref.c - the kernel VM compiled without instruction-set
 * flags: the reference, always built (NDPAR_ISA=ref selects it).
 */
#define NDP_KVM_NAME ndp__kvm_run_ref
#include "kernel/vm_body.h"
