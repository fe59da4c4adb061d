/* tests/c/test_errors.c - the error table, dtype helpers and casting rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ndpar.h"

static void test_error_table(void **state) {
  (void)state;
  assert_string_equal(ndp_strerror(0), "success");
  assert_string_equal(ndp_err_name(NDP_EINVAL), "NDP_EINVAL");
  assert_string_equal(ndp_strerror(NDP_ENOMEM), "out of memory");
  for (int c = -1; c >= NDP_ERRNO_MIN; c--) {
    assert_true(strcmp(ndp_strerror(c), "unknown error") != 0);
    assert_true(strncmp(ndp_err_name(c), "NDP_E", 5) == 0);
  }
  /* the table ends at NDP_ERRNO_MIN (derived from the table itself) */
  assert_string_equal(ndp_strerror(NDP_ERRNO_MIN - 1), "unknown error");
  assert_string_equal(ndp_err_name(NDP_ERRNO_MIN - 1), "NDP_EUNKNOWN");
  assert_string_equal(ndp_strerror(-9999), "unknown error");
  /* the faces' columns */
  assert_int_equal(ndp_err_exit_status(0), 0);
  assert_int_equal(ndp_err_exit_status(NDP_EINVAL), 2);
  assert_int_equal(ndp_err_exit_status(NDP_ENOMEM), 1);
  assert_int_equal(ndp_err_exit_status(NDP_ECANCELED), 130);
  assert_int_equal(ndp_err_exit_status(-9999), 1);
  assert_null(ndp_err_pyexc(0));
  assert_string_equal(ndp_err_pyexc(NDP_ESYNTAX), "SyntaxError");
  assert_string_equal(ndp_err_pyexc(NDP_ENAME), "NameError");
  assert_string_equal(ndp_err_pyexc(NDP_ECAST), "TypeError");
  assert_string_equal(ndp_err_pyexc(-9999), "RuntimeError");
  for (int c = -1; c >= NDP_ERRNO_MIN; c--) {
    int x = ndp_err_exit_status(c);
    assert_true(x == 1 || x == 2 || x == 130);
    assert_non_null(ndp_err_pyexc(c));
  }
  assert_string_equal(ndp_strerror(42), "unknown error");
}

static void test_dtypes(void **state) {
  (void)state;
  assert_int_equal(ndp_dtype_size(NDP_FLOAT64), 8);
  assert_int_equal(ndp_dtype_size(NDP_BOOL), 1);
  assert_int_equal(ndp_dtype_size(NDP_NTYPES), 0);
  assert_int_equal(ndp_dtype_size((ndp_dtype)-5), 0);
  assert_string_equal(ndp_dtype_name(NDP_UINT16), "uint16");
  assert_int_equal(ndp_dtype_from_name("<f4"), NDP_FLOAT32);
  assert_int_equal(ndp_dtype_from_name("int64"), NDP_INT64);
  assert_int_equal(ndp_dtype_from_name("?"), NDP_BOOL);
  assert_int_equal(ndp_dtype_from_name("complex128"), NDP_NTYPES);
  assert_int_equal(ndp_dtype_from_name(NULL), NDP_NTYPES);
}

static void test_casting_rules(void **state) {
  (void)state;
  /* facts from np.can_cast */
  assert_true(ndp_can_cast(NDP_INT8, NDP_FLOAT32, NDP_CASTING_SAFE));
  assert_false(ndp_can_cast(NDP_INT32, NDP_FLOAT32, NDP_CASTING_SAFE));
  assert_true(ndp_can_cast(NDP_INT32, NDP_FLOAT32, NDP_CASTING_SAME_KIND));
  assert_false(ndp_can_cast(NDP_INT64, NDP_UINT8, NDP_CASTING_SAME_KIND));
  assert_true(ndp_can_cast(NDP_UINT8, NDP_INT8, NDP_CASTING_SAME_KIND));
  assert_false(ndp_can_cast(NDP_FLOAT64, NDP_INT64, NDP_CASTING_SAME_KIND));
  assert_true(ndp_can_cast(NDP_FLOAT64, NDP_INT64, NDP_CASTING_UNSAFE));
  assert_false(ndp_can_cast(NDP_FLOAT64, NDP_FLOAT32, NDP_CASTING_NO));
  assert_int_equal(ndp_promote(NDP_INT64, NDP_UINT64), NDP_FLOAT64);
  assert_int_equal(ndp_promote(NDP_INT8, NDP_UINT8), NDP_INT16);
  assert_int_equal(ndp_promote(NDP_UINT16, NDP_FLOAT32), NDP_FLOAT32);
  assert_int_equal(ndp_promote(NDP_INT32, NDP_FLOAT32), NDP_FLOAT64);
  assert_int_equal(ndp_promote(NDP_BOOL, NDP_BOOL), NDP_BOOL);
}

static void test_array_init(void **state) {
  (void)state;
  ndp_array a;
  int64_t shape[3] = {2, 3, 4};
  assert_int_equal(ndp_array_init(&a, NULL, NDP_FLOAT32, 3, shape), 0);
  assert_int_equal(a.strides[0], 48);
  assert_int_equal(a.strides[2], 4);
  assert_int_equal(ndp_array_size(&a), 24);
  int64_t bad[2] = {2, -1};
  assert_int_equal(ndp_array_init(&a, NULL, NDP_FLOAT32, 2, bad), NDP_EINVAL);
  assert_int_equal(ndp_array_init(&a, NULL, NDP_NTYPES, 1, shape), NDP_EINVAL);
  assert_int_equal(ndp_array_init(&a, NULL, NDP_FLOAT32, NDP_MAXDIMS + 1, shape), NDP_EINVAL);
  int64_t huge[2] = {INT64_MAX / 2, 16};
  assert_int_equal(ndp_array_init(&a, NULL, NDP_FLOAT64, 2, huge), NDP_EOVERFLOW);
}

static void test_versions(void **state) {
  (void)state;
  assert_string_equal(ndp_version(), NDPAR_VERSION_STRING);
  assert_non_null(ndp_mathlib());
  assert_non_null(ndp_isa_name(ndp_get_isa()));
  assert_null(ndp_isa_name(NDP_NISAS));
  assert_true(ndp_get_isa() <= ndp_cpu_isa());
  assert_int_equal(ndp_set_isa(NDP_NISAS), NDP_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_error_table), cmocka_unit_test(test_dtypes),
      cmocka_unit_test(test_casting_rules), cmocka_unit_test(test_array_init),
      cmocka_unit_test(test_versions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
