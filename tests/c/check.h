/* A minimal test harness for the C contract tests: each CHECK counts as one assertion; main
 * prints "N passed, N failed" and exits non-zero on any failure. Compiles as C11 and C++17. */
#ifndef SLUICE_TEST_CHECK_H
#define SLUICE_TEST_CHECK_H

#include "sluice.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int checks_passed;
static int checks_failed;

#define CHECK(cond)                                                                    \
  do {                                                                                 \
    if (cond) {                                                                        \
      checks_passed++;                                                                 \
    } else {                                                                           \
      checks_failed++;                                                                 \
      fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, __LINE__, \
              #cond, sluice_last_error());                                             \
    }                                                                                  \
  } while (0)

/* Checks a call's status; on mismatch prints both names and the last error. */
#define CHECK_STATUS(call, expected)                                                     \
  do {                                                                                   \
    int got_ = (int)(call);                                                              \
    if (got_ == (int)(expected)) {                                                       \
      checks_passed++;                                                                   \
    } else {                                                                             \
      checks_failed++;                                                                   \
      fprintf(stderr, "%s:%d: %s gave %s, expected %s (last error: %s)\n", __FILE__,     \
              __LINE__, #call, sluice_status_name(got_), sluice_status_name((int)(expected)), \
              sluice_last_error());                                                      \
    }                                                                                    \
  } while (0)

/* The last error must contain `needle`. */
#define CHECK_ERROR_MENTIONS(needle) CHECK(strstr(sluice_last_error(), (needle)) != NULL)

static int finish(const char *suite) {
  printf("%s: %d passed, %d failed\n", suite, checks_passed, checks_failed);
  return checks_failed == 0 ? 0 : 1;
}

/* The integer value of `"key":N` in the first exporter object (or the top level when
 * `exporter` is 0) of a stats JSON; -1 when absent. Enough for these tests' flat lookups. */
static long long stat_of(const char *json, int exporter, const char *key) {
  const char *from = json;
  char pattern[96];
  if (exporter > 0) {
    snprintf(pattern, sizeof pattern, "{\"id\":%d,", exporter);
    from = strstr(json, pattern);
    if (from == NULL) return -1;
  }
  snprintf(pattern, sizeof pattern, "\"%s\":", key);
  const char *at = strstr(from, pattern);
  if (at == NULL) return -1;
  return strtoll(at + strlen(pattern), NULL, 10);
}

/* Fetches a store's stats and returns stat_of on them. */
static long long store_stat(sluice_store *store, int exporter, const char *key) {
  char *json = NULL;
  if (sluice_store_stats(store, &json) != SLUICE_OK) return -2;
  long long value = stat_of(json, exporter, key);
  sluice_string_free(json);
  return value;
}

#endif
