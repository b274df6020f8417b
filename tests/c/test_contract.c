/* The whole C contract of ../shared/spec/c-api.md, including every bad input, exercised
 * through include/sluice.h. Built as C11 and as C++17 with -Wall -Wextra -Werror and run under
 * valgrind by tests/c/run.sh. */
#include "check.h"

#include <pthread.h>
#include <stdint.h>
#include <time.h>

static const char EVENT[] = "{\"kind\":\"feature\",\"creationDate\":1700000000,\"key\":\"flag\",\"userKey\":\"u\"}";

static void add_user(sluice_store *store, int i) {
  char event[128];
  int n = snprintf(event, sizeof event, "{\"key\":\"flag\",\"userKey\":\"u%d\",\"creationDate\":1}", i);
  CHECK_STATUS(sluice_store_add(store, event, (size_t)n), SLUICE_OK);
}

static void sleep_ms(long ms) {
  struct timespec t;
  t.tv_sec = ms / 1000;
  t.tv_nsec = (ms % 1000) * 1000000L;
  nanosleep(&t, NULL);
}

/* ---------------------------------------------------------------- a recording exporter */

typedef struct recorder {
  pthread_mutex_t lock;
  char text[65536]; /* every batch offered, separated by '|' */
  int calls;
  int fail_first;   /* how many calls fail before success */
  int released;
  sluice_store *store; /* for re-entrancy checks, when set */
  int reentry[4];      /* statuses of flush, close, remove, add from inside the callback */
} recorder;

static void recorder_init(recorder *r) {
  memset(r, 0, sizeof *r);
  pthread_mutex_init(&r->lock, NULL);
}

static int32_t record_batch(void *userdata, const uint8_t *data, size_t len, size_t event_count) {
  recorder *r = (recorder *)userdata;
  (void)event_count;
  pthread_mutex_lock(&r->lock);
  size_t used = strlen(r->text);
  if (used + len + 2 < sizeof r->text) {
    memcpy(r->text + used, data, len);
    r->text[used + len] = '|';
    r->text[used + len + 1] = '\0';
  }
  int call = r->calls++;
  sluice_store *store = r->store;
  pthread_mutex_unlock(&r->lock);
  if (store != NULL && call == 0) {
    r->reentry[0] = (int)sluice_store_flush(store, 1000);
    r->reentry[1] = (int)sluice_store_close(store, 1000);
    r->reentry[2] = (int)sluice_store_remove_exporter(store, 1, 1000);
    sluice_store_free(store); /* refused: the store stays usable */
    r->reentry[3] = (int)sluice_store_add(store, EVENT, strlen(EVENT));
  }
  return call < r->fail_first ? 1 : 0;
}

static void release_recorder(void *userdata) {
  recorder *r = (recorder *)userdata;
  pthread_mutex_lock(&r->lock);
  r->released++;
  pthread_mutex_unlock(&r->lock);
}

static int32_t never_called(void *userdata, const uint8_t *data, size_t len, size_t count) {
  (void)userdata, (void)data, (void)len, (void)count;
  return 0;
}

/* ---------------------------------------------------------------- tests */

static void version_and_errors(void) {
  CHECK(strcmp(sluice_version(), SLUICE_VERSION_STRING) == 0);
  char expected[32];
  snprintf(expected, sizeof expected, "%d.%d.%d", SLUICE_VERSION_MAJOR, SLUICE_VERSION_MINOR, SLUICE_VERSION_PATCH);
  CHECK(strcmp(sluice_version(), expected) == 0);
  CHECK(strcmp(sluice_status_name(SLUICE_OK), "SLUICE_OK") == 0);
  CHECK(strcmp(sluice_status_name(SLUICE_ERR_FULL), "SLUICE_ERR_FULL") == 0);
  CHECK(strcmp(sluice_status_name(SLUICE_ERR_PANIC), "SLUICE_ERR_PANIC") == 0);
  CHECK(strcmp(sluice_status_name(11), "SLUICE_UNKNOWN") == 0);
  CHECK(strcmp(sluice_status_name(-1), "SLUICE_UNKNOWN") == 0);
  CHECK(strcmp(sluice_last_error(), "") == 0);
}

static void null_arguments(void) {
  sluice_store *store = NULL;
  uint64_t id = 0;
  char *json = NULL;
  sluice_batch *batch = NULL;
  CHECK_STATUS(sluice_store_new(NULL, NULL), SLUICE_ERR_NULL_ARGUMENT);
  CHECK_ERROR_MENTIONS("out_store");
  CHECK_STATUS(sluice_store_add(NULL, EVENT, strlen(EVENT)), SLUICE_ERR_NULL_ARGUMENT);
  CHECK_ERROR_MENTIONS("`store` must not be NULL");
  CHECK_STATUS(sluice_store_flush(NULL, 10), SLUICE_ERR_NULL_ARGUMENT);
  CHECK_STATUS(sluice_store_close(NULL, 10), SLUICE_ERR_NULL_ARGUMENT);
  CHECK_STATUS(sluice_store_stats(NULL, &json), SLUICE_ERR_NULL_ARGUMENT);
  CHECK_STATUS(sluice_store_add_pull_exporter(NULL, NULL, &id), SLUICE_ERR_NULL_ARGUMENT);
  CHECK_STATUS(sluice_store_add_callback_exporter(NULL, NULL, never_called, NULL, NULL, &id), SLUICE_ERR_NULL_ARGUMENT);
  CHECK_STATUS(sluice_store_poll(NULL, 1, 0, &batch), SLUICE_ERR_NULL_ARGUMENT);
  CHECK_STATUS(sluice_store_remove_exporter(NULL, 1, 0), SLUICE_ERR_NULL_ARGUMENT);
  CHECK_STATUS(sluice_batch_complete(NULL, true), SLUICE_ERR_NULL_ARGUMENT);
  size_t len = 99;
  CHECK(sluice_batch_data(NULL, &len) == NULL && len == 0);
  CHECK(sluice_batch_event_count(NULL) == 0);
  sluice_store_free(NULL);
  sluice_string_free(NULL);

  CHECK_STATUS(sluice_store_new(NULL, &store), SLUICE_OK);
  CHECK_STATUS(sluice_store_add(store, NULL, 5), SLUICE_ERR_NULL_ARGUMENT);
  CHECK_ERROR_MENTIONS("event_json");
  CHECK_STATUS(sluice_store_add(store, NULL, 0), SLUICE_ERR_INVALID_EVENT);
  CHECK_STATUS(sluice_store_stats(store, NULL), SLUICE_ERR_NULL_ARGUMENT);
  CHECK_STATUS(sluice_store_add_pull_exporter(store, NULL, NULL), SLUICE_ERR_NULL_ARGUMENT);
  CHECK_STATUS(sluice_store_add_callback_exporter(store, NULL, NULL, NULL, NULL, &id), SLUICE_ERR_NULL_ARGUMENT);
  CHECK_ERROR_MENTIONS("export_fn");
  CHECK_STATUS(sluice_store_add_callback_exporter(store, NULL, never_called, NULL, NULL, NULL), SLUICE_ERR_NULL_ARGUMENT);
  CHECK_STATUS(sluice_store_poll(store, 1, 0, NULL), SLUICE_ERR_NULL_ARGUMENT);
  CHECK_STATUS(store_stat(store, 0, "accepted"), 0);
  sluice_store_free(store);
}

static void bad_configs_and_options(void) {
  sluice_store *store = (sluice_store *)0x1;
  CHECK_STATUS(sluice_store_new("{", &store), SLUICE_ERR_INVALID_ARGUMENT);
  CHECK_ERROR_MENTIONS("not valid JSON");
  CHECK(store == (sluice_store *)0x1); /* outputs are written only on success */
  CHECK_STATUS(sluice_store_new("{\"capacityy\":1}", &store), SLUICE_ERR_INVALID_ARGUMENT);
  CHECK_ERROR_MENTIONS("unknown key `capacityy`");
  CHECK_STATUS(sluice_store_new("{\"capacity\":\"10\"}", &store), SLUICE_ERR_INVALID_ARGUMENT);
  CHECK_ERROR_MENTIONS("`capacity`");
  CHECK_STATUS(sluice_store_new("{\"capacity\":-1}", &store), SLUICE_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(sluice_store_new("{\"overflow\":\"sometimes\"}", &store), SLUICE_ERR_INVALID_ARGUMENT);
  CHECK_ERROR_MENTIONS("`overflow`");
  CHECK_STATUS(sluice_store_new("[]", &store), SLUICE_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(sluice_store_new("{\"max_bytes\":100,\"max_event_bytes\":1000}", &store), SLUICE_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(sluice_store_new("{\"capacity\":\"\xff\"}", &store), SLUICE_ERR_INVALID_ARGUMENT);
  CHECK_ERROR_MENTIONS("UTF-8");
  CHECK(store == (sluice_store *)0x1);

  CHECK_STATUS(sluice_store_new("", &store), SLUICE_OK);
  uint64_t id = 77;
  recorder r;
  recorder_init(&r);
  CHECK_STATUS(sluice_store_add_callback_exporter(store, "{\"format\":\"xml\"}", record_batch, &r, release_recorder, &id),
               SLUICE_ERR_INVALID_ARGUMENT);
  CHECK_ERROR_MENTIONS("`format`");
  CHECK_STATUS(sluice_store_add_callback_exporter(store, "{\"bulk\":\"no\"}", record_batch, &r, release_recorder, &id),
               SLUICE_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(sluice_store_add_pull_exporter(store, "{\"max_batch_size\":0}", &id), SLUICE_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(sluice_store_add_pull_exporter(store, "{\"initial_backoff_ms\":10,\"max_backoff_ms\":1}", &id),
               SLUICE_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(sluice_store_add_pull_exporter(store, "{\"nmae\":\"x\"}", &id), SLUICE_ERR_INVALID_ARGUMENT);
  CHECK_ERROR_MENTIONS("unknown key `nmae`");
  CHECK(id == 77);
  sluice_store_free(store);
  CHECK(r.released == 0); /* failed registrations never release */
  pthread_mutex_destroy(&r.lock);
}

static void bad_events(void) {
  sluice_store *store = NULL;
  CHECK_STATUS(sluice_store_new("{\"max_event_bytes\":300000}", &store), SLUICE_OK);
  const char *bad[] = {
      "",
      "not json",
      "[1,2]",
      "{\"a\":1} trailing",
      "{\"a\":1}{\"b\":2}",
      "{\"a\":",
      "{\"userKey\":42}",
      "{\"creationDate\":\"yesterday\"}",
      "{\"creationDate\":1.5}",
      "{\"default\":\"true\"}",
      "{\"metadata\":[1]}",
      "{\"evaluationContext\":\"x\"}",
      "{\"trackingEventDetails\":3}",
      "{\"key\":\"a\",\"key\":\"b\"}",
      "{\"a\":\"\xc3\x28\"}",
      "{\"a\":\"\xff\"}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK_STATUS(sluice_store_add(store, bad[i], strlen(bad[i])), SLUICE_ERR_INVALID_EVENT);
  }
  CHECK_STATUS(sluice_store_add(store, "{\"userKey\":42}", 14), SLUICE_ERR_INVALID_EVENT);
  CHECK_ERROR_MENTIONS("field `userKey` must be a string");
  /* An embedded NUL is not JSON. */
  CHECK_STATUS(sluice_store_add(store, "{\"a\":1}\0", 8), SLUICE_ERR_INVALID_EVENT);

  /* 100,000-deep nesting: refused, no stack overflow. */
  size_t depth = 100000, n = 0;
  char *deep = (char *)malloc(2 * depth + 16);
  n += (size_t)sprintf(deep, "{\"a\":");
  for (size_t i = 0; i < depth; i++) deep[n++] = '[';
  for (size_t i = 0; i < depth; i++) deep[n++] = ']';
  deep[n++] = '}';
  CHECK_STATUS(sluice_store_add(store, deep, n), SLUICE_ERR_INVALID_EVENT);
  CHECK_ERROR_MENTIONS("deeper than");
  free(deep);

  /* Larger than max_event_bytes. */
  size_t huge_len = 400000;
  char *huge = (char *)malloc(huge_len);
  memset(huge, 'x', huge_len);
  memcpy(huge, "{\"v\":\"", 6);
  memcpy(huge + huge_len - 2, "\"}", 2);
  CHECK_STATUS(sluice_store_add(store, huge, huge_len), SLUICE_ERR_INVALID_EVENT);
  CHECK_ERROR_MENTIONS("max_event_bytes");
  free(huge);

  CHECK(store_stat(store, 0, "invalid") == (long long)(sizeof bad / sizeof bad[0]) + 4);
  CHECK(store_stat(store, 0, "accepted") == 0);
  sluice_store_free(store);
}

static void callback_exporter_batches_retries_and_releases(void) {
  sluice_store *store = NULL;
  CHECK_STATUS(sluice_store_new(NULL, &store), SLUICE_OK);
  recorder r;
  recorder_init(&r);
  r.fail_first = 2;
  uint64_t id = 0;
  CHECK_STATUS(sluice_store_add_callback_exporter(
                   store, "{\"name\":\"rec\",\"max_batch_size\":2,\"initial_backoff_ms\":1,\"max_backoff_ms\":2}",
                   record_batch, &r, release_recorder, &id),
               SLUICE_OK);
  CHECK(id == 1);
  for (int i = 0; i < 3; i++) add_user(store, i);
  CHECK_STATUS(sluice_store_flush(store, 10000), SLUICE_OK);
  const char *expected =
      "[{\"kind\":\"feature\",\"key\":\"flag\",\"userKey\":\"u0\",\"creationDate\":1},"
      "{\"kind\":\"feature\",\"key\":\"flag\",\"userKey\":\"u1\",\"creationDate\":1}]|"
      "[{\"kind\":\"feature\",\"key\":\"flag\",\"userKey\":\"u0\",\"creationDate\":1},"
      "{\"kind\":\"feature\",\"key\":\"flag\",\"userKey\":\"u1\",\"creationDate\":1}]|"
      "[{\"kind\":\"feature\",\"key\":\"flag\",\"userKey\":\"u0\",\"creationDate\":1},"
      "{\"kind\":\"feature\",\"key\":\"flag\",\"userKey\":\"u1\",\"creationDate\":1}]|"
      "[{\"kind\":\"feature\",\"key\":\"flag\",\"userKey\":\"u2\",\"creationDate\":1}]|";
  CHECK(strcmp(r.text, expected) == 0);
  if (strcmp(r.text, expected) != 0) fprintf(stderr, "got: %s\n", r.text);
  CHECK(store_stat(store, 1, "exported") == 3);
  CHECK(store_stat(store, 1, "failed_attempts") == 2);
  CHECK(store_stat(store, 1, "batches") == 2);
  char *json = NULL;
  CHECK_STATUS(sluice_store_stats(store, &json), SLUICE_OK);
  CHECK(strstr(json, "\"name\":\"rec\"") != NULL);
  CHECK(strstr(json, "\"last_error\":\"the export callback returned 1\"") != NULL);
  sluice_string_free(json);
  CHECK_STATUS(sluice_store_close(store, 10000), SLUICE_OK);
  CHECK(r.released == 1);
  CHECK_STATUS(sluice_store_close(store, 10000), SLUICE_OK); /* idempotent */
  CHECK(r.released == 1);
  sluice_store_free(store);
  CHECK(r.released == 1);
  pthread_mutex_destroy(&r.lock);
}

static void calls_from_inside_a_callback(void) {
  sluice_store *store = NULL;
  CHECK_STATUS(sluice_store_new(NULL, &store), SLUICE_OK);
  recorder r;
  recorder_init(&r);
  r.store = store;
  uint64_t id = 0;
  CHECK_STATUS(sluice_store_add_callback_exporter(store, "{\"bulk\":false}", record_batch, &r, release_recorder, &id),
               SLUICE_OK);
  add_user(store, 0);
  CHECK_STATUS(sluice_store_flush(store, 10000), SLUICE_OK);
  CHECK_STATUS(sluice_store_flush(store, 10000), SLUICE_OK); /* the event the callback added */
  CHECK_STATUS(r.reentry[0], SLUICE_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(r.reentry[1], SLUICE_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(r.reentry[2], SLUICE_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(r.reentry[3], SLUICE_OK);
  CHECK(store_stat(store, 1, "exported") == 2);
  sluice_store_free(store);
  CHECK(r.released == 1);
  pthread_mutex_destroy(&r.lock);
}

static void pull_exporter(void) {
  sluice_store *store = NULL;
  CHECK_STATUS(sluice_store_new(NULL, &store), SLUICE_OK);
  uint64_t id = 0, callback_id = 0;
  CHECK_STATUS(sluice_store_add_pull_exporter(store, "{\"max_batch_size\":2,\"format\":\"jsonl\",\"initial_backoff_ms\":1}", &id), SLUICE_OK);
  CHECK_STATUS(sluice_store_add_callback_exporter(store, NULL, never_called, NULL, NULL, &callback_id), SLUICE_OK);
  sluice_batch *batch = (sluice_batch *)0x1;
  CHECK_STATUS(sluice_store_poll(store, id, 0, &batch), SLUICE_ERR_TIMEOUT);
  CHECK(batch == (sluice_batch *)0x1);
  CHECK_STATUS(sluice_store_poll(store, 99, 0, &batch), SLUICE_ERR_NOT_FOUND);
  CHECK_STATUS(sluice_store_poll(store, callback_id, 0, &batch), SLUICE_ERR_INVALID_ARGUMENT);
  for (int i = 0; i < 3; i++) add_user(store, i);
  CHECK_STATUS(sluice_store_poll(store, id, 1000, &batch), SLUICE_OK);
  size_t len = 0;
  const uint8_t *data = sluice_batch_data(batch, &len);
  const char *two =
      "{\"kind\":\"feature\",\"key\":\"flag\",\"userKey\":\"u0\",\"creationDate\":1}\n"
      "{\"kind\":\"feature\",\"key\":\"flag\",\"userKey\":\"u1\",\"creationDate\":1}\n";
  CHECK(len == strlen(two) && memcmp(data, two, len) == 0);
  CHECK(sluice_batch_event_count(batch) == 2);
  sluice_batch *second = NULL;
  CHECK_STATUS(sluice_store_poll(store, id, 0, &second), SLUICE_ERR_INVALID_ARGUMENT);
  CHECK_ERROR_MENTIONS("outstanding");
  CHECK_STATUS(sluice_batch_complete(batch, false), SLUICE_OK);
  CHECK_STATUS(sluice_store_poll(store, id, 1000, &batch), SLUICE_OK);
  data = sluice_batch_data(batch, &len);
  CHECK(len == strlen(two) && memcmp(data, two, len) == 0); /* the same events again */
  CHECK_STATUS(sluice_batch_complete(batch, true), SLUICE_OK);
  CHECK(store_stat(store, 1, "exported") == 2);
  CHECK(store_stat(store, 1, "pending") == 1);
  CHECK(store_stat(store, 1, "failed_attempts") == 1);
  /* The last event is below the threshold: not due until a flush asks for it. */
  CHECK_STATUS(sluice_store_poll(store, id, 0, &batch), SLUICE_ERR_TIMEOUT);
  CHECK_STATUS(sluice_store_flush(store, 0), SLUICE_ERR_TIMEOUT);
  CHECK_STATUS(sluice_store_poll(store, id, 1000, &batch), SLUICE_OK);
  CHECK(sluice_batch_event_count(batch) == 1);
  /* A batch outstanding at close counts as not exported. */
  CHECK_STATUS(sluice_store_close(store, 50), SLUICE_ERR_TIMEOUT);
  CHECK_ERROR_MENTIONS("1 events were not exported");
  CHECK_STATUS(sluice_batch_complete(batch, true), SLUICE_ERR_CLOSED);
  CHECK(store_stat(store, 1, "exported") == 2);
  CHECK(store_stat(store, 1, "shutdown") == 1);
  CHECK(store_stat(store, 1, "pending") == 0);
  CHECK_STATUS(sluice_store_poll(store, id, 0, &batch), SLUICE_ERR_CLOSED);
  sluice_store_free(store);
}

static void overflow_policies(void) {
  sluice_store *store = NULL;
  uint64_t id = 0;
  CHECK_STATUS(sluice_store_new("{\"capacity\":2,\"overflow\":\"drop_newest\"}", &store), SLUICE_OK);
  CHECK_STATUS(sluice_store_add_pull_exporter(store, NULL, &id), SLUICE_OK);
  add_user(store, 0);
  add_user(store, 1);
  CHECK_STATUS(sluice_store_add(store, EVENT, strlen(EVENT)), SLUICE_ERR_FULL);
  CHECK_ERROR_MENTIONS("full");
  CHECK(store_stat(store, 0, "rejected") == 1);
  CHECK(store_stat(store, 0, "accepted") == 2);
  CHECK_STATUS(sluice_store_close(store, 0), SLUICE_ERR_TIMEOUT);
  sluice_store_free(store);

  CHECK_STATUS(sluice_store_new("{\"capacity\":2}", &store), SLUICE_OK);
  CHECK_STATUS(sluice_store_add_pull_exporter(store, NULL, &id), SLUICE_OK);
  for (int i = 0; i < 5; i++) add_user(store, i);
  CHECK(store_stat(store, 0, "buffered") == 2);
  CHECK(store_stat(store, 1, "dropped") == 3);
  CHECK(store_stat(store, 1, "overflow") == 3);
  CHECK(store_stat(store, 1, "pending") == 2);
  CHECK_STATUS(sluice_store_close(store, 0), SLUICE_ERR_TIMEOUT);
  CHECK(store_stat(store, 1, "dropped") == 5);
  CHECK(store_stat(store, 1, "shutdown") == 2);
  sluice_store_free(store);

  CHECK_STATUS(sluice_store_new("{\"capacity\":1,\"overflow\":\"block\",\"block_timeout_ms\":20}", &store), SLUICE_OK);
  CHECK_STATUS(sluice_store_add_pull_exporter(store, NULL, &id), SLUICE_OK);
  add_user(store, 0);
  CHECK_STATUS(sluice_store_add(store, EVENT, strlen(EVENT)), SLUICE_ERR_FULL);
  CHECK(store_stat(store, 0, "rejected") == 1);
  CHECK_STATUS(sluice_store_close(store, 0), SLUICE_ERR_TIMEOUT);
  sluice_store_free(store);
}

static void remove_exporter(void) {
  sluice_store *store = NULL;
  CHECK_STATUS(sluice_store_new(NULL, &store), SLUICE_OK);
  recorder r;
  recorder_init(&r);
  uint64_t id = 0;
  CHECK_STATUS(sluice_store_add_callback_exporter(store, NULL, record_batch, &r, release_recorder, &id), SLUICE_OK);
  add_user(store, 7);
  CHECK_STATUS(sluice_store_remove_exporter(store, id, 10000), SLUICE_OK);
  CHECK(r.released == 1);
  CHECK(strstr(r.text, "\"userKey\":\"u7\"") != NULL);
  CHECK_STATUS(sluice_store_remove_exporter(store, id, 10000), SLUICE_ERR_NOT_FOUND);
  CHECK(store_stat(store, 1, "exported") == -1);
  CHECK_STATUS(sluice_store_close(store, 1000), SLUICE_OK);
  CHECK_STATUS(sluice_store_remove_exporter(store, id, 10000), SLUICE_ERR_CLOSED);
  sluice_store_free(store);
  pthread_mutex_destroy(&r.lock);
}

static void calls_after_close(void) {
  sluice_store *store = NULL;
  uint64_t id = 0;
  CHECK_STATUS(sluice_store_new(NULL, &store), SLUICE_OK);
  CHECK_STATUS(sluice_store_close(store, 1000), SLUICE_OK);
  CHECK_STATUS(sluice_store_add(store, EVENT, strlen(EVENT)), SLUICE_ERR_CLOSED);
  CHECK_STATUS(sluice_store_add(store, "bad", 3), SLUICE_ERR_CLOSED);
  CHECK_STATUS(sluice_store_flush(store, 10), SLUICE_ERR_CLOSED);
  CHECK_STATUS(sluice_store_add_pull_exporter(store, NULL, &id), SLUICE_ERR_CLOSED);
  CHECK_STATUS(sluice_store_add_callback_exporter(store, NULL, never_called, NULL, NULL, &id), SLUICE_ERR_CLOSED);
  CHECK_STATUS(sluice_store_close(store, 10), SLUICE_OK);
  char *json = NULL;
  CHECK_STATUS(sluice_store_stats(store, &json), SLUICE_OK);
  CHECK(strstr(json, "\"closed\":true") != NULL);
  sluice_string_free(json);
  sluice_store_free(store);
}

/* ---------------------------------------------------------------- logging */

static int log_lines;
static char log_last[512];

static void on_log(void *userdata, sluice_log_level level, const char *message) {
  int *seen_level = (int *)userdata;
  *seen_level = (int)level;
  log_lines++;
  snprintf(log_last, sizeof log_last, "%s", message);
}

static void logging(void) {
  int seen_level = 0;
  CHECK_STATUS(sluice_set_log_callback(on_log, &seen_level, 0), SLUICE_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(sluice_set_log_callback(on_log, &seen_level, 5), SLUICE_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(sluice_set_log_callback(on_log, &seen_level, SLUICE_LOG_WARN), SLUICE_OK);
  sluice_store *store = NULL;
  CHECK_STATUS(sluice_store_new(NULL, &store), SLUICE_OK);
  recorder r;
  recorder_init(&r);
  r.fail_first = 1;
  uint64_t id = 0;
  CHECK_STATUS(sluice_store_add_callback_exporter(store, "{\"name\":\"flaky\",\"initial_backoff_ms\":1}", record_batch, &r,
                                                  release_recorder, &id),
               SLUICE_OK);
  add_user(store, 0);
  CHECK_STATUS(sluice_store_flush(store, 10000), SLUICE_OK);
  CHECK(log_lines == 1);
  CHECK(seen_level == SLUICE_LOG_WARN);
  CHECK(strstr(log_last, "exporter 1 (flaky) failed to export 1 events") != NULL);
  CHECK_STATUS(sluice_set_log_callback(NULL, NULL, SLUICE_LOG_DEBUG), SLUICE_OK);
  r.fail_first = 2;
  add_user(store, 1);
  CHECK_STATUS(sluice_store_flush(store, 10000), SLUICE_OK);
  CHECK(log_lines == 1); /* removed: no more lines */
  sluice_store_free(store);
  pthread_mutex_destroy(&r.lock);
}

/* Removing the log callback waits for calls in progress: none runs after the setter returns. */
static volatile int log_removed;
static volatile int calls_after_removal;

static void slow_log(void *userdata, sluice_log_level level, const char *message) {
  (void)userdata, (void)level, (void)message;
  sleep_ms(1);
  if (log_removed) calls_after_removal++;
}

static int32_t always_fail(void *userdata, const uint8_t *data, size_t len, size_t count) {
  (void)userdata, (void)data, (void)len, (void)count;
  return 1;
}

static void log_callback_removal_waits_for_calls_in_progress(void) {
  sluice_store *store = NULL;
  CHECK_STATUS(sluice_store_new(NULL, &store), SLUICE_OK);
  uint64_t id = 0;
  CHECK_STATUS(sluice_store_add_callback_exporter(store, "{\"bulk\":false,\"initial_backoff_ms\":0,\"max_backoff_ms\":0}",
                                                  always_fail, NULL, NULL, &id),
               SLUICE_OK);
  add_user(store, 0); /* fails over and over: a warning each time */
  for (int round = 0; round < 20; round++) {
    log_removed = 0;
    CHECK_STATUS(sluice_set_log_callback(slow_log, NULL, SLUICE_LOG_WARN), SLUICE_OK);
    sleep_ms(3);
    CHECK_STATUS(sluice_set_log_callback(NULL, NULL, SLUICE_LOG_WARN), SLUICE_OK);
    log_removed = 1;
    sleep_ms(2);
  }
  CHECK(calls_after_removal == 0);
  CHECK_STATUS(sluice_store_close(store, 0), SLUICE_ERR_TIMEOUT);
  sluice_store_free(store);
}

/* A log callback that blocks (here: until the test opens a gate) must not stretch close past
 * its deadline: the worker that called it counts as running host code. */
static pthread_mutex_t log_gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t log_gate_cond = PTHREAD_COND_INITIALIZER;
static int log_gate_open, log_gate_waiting;

static void gated_log(void *userdata, sluice_log_level level, const char *message) {
  (void)userdata, (void)level;
  if (strstr(message, "failed to export") == NULL) return;
  pthread_mutex_lock(&log_gate_lock);
  log_gate_waiting++;
  pthread_cond_broadcast(&log_gate_cond);
  while (!log_gate_open) pthread_cond_wait(&log_gate_cond, &log_gate_lock);
  pthread_mutex_unlock(&log_gate_lock);
}

static void close_honours_its_deadline_while_a_worker_is_in_the_log_callback(void) {
  CHECK_STATUS(sluice_set_log_callback(gated_log, NULL, SLUICE_LOG_WARN), SLUICE_OK);
  sluice_store *store = NULL;
  CHECK_STATUS(sluice_store_new(NULL, &store), SLUICE_OK);
  uint64_t id = 0;
  CHECK_STATUS(sluice_store_add_callback_exporter(store, "{\"bulk\":false}", always_fail, NULL, NULL, &id), SLUICE_OK);
  add_user(store, 0);
  pthread_mutex_lock(&log_gate_lock);
  while (log_gate_waiting == 0) pthread_cond_wait(&log_gate_cond, &log_gate_lock);
  pthread_mutex_unlock(&log_gate_lock);
  /* Returns although the worker is stuck in the log callback (else this test never ends). */
  CHECK_STATUS(sluice_store_close(store, 50), SLUICE_ERR_TIMEOUT);
  CHECK(store_stat(store, 1, "shutdown") == 1);
  pthread_mutex_lock(&log_gate_lock);
  log_gate_open = 1;
  pthread_cond_broadcast(&log_gate_cond);
  pthread_mutex_unlock(&log_gate_lock);
  CHECK_STATUS(sluice_set_log_callback(NULL, NULL, SLUICE_LOG_WARN), SLUICE_OK);
  sluice_store_free(store);
  sleep_ms(50); /* let the detached worker finish before valgrind's leak check */
}

/* ---------------------------------------------------------------- dispatch listeners */

typedef struct dispatch_log {
  pthread_mutex_t lock;
  int ok, failed, released;
  size_t events;
  uint64_t last_exporter;
} dispatch_log;

static void on_dispatch(void *userdata, uint64_t exporter_id, const uint8_t *data, size_t len, size_t event_count,
                        sluice_status result) {
  dispatch_log *d = (dispatch_log *)userdata;
  pthread_mutex_lock(&d->lock);
  if (len > 0 && data[0] == '[') {
    if (result == SLUICE_OK) d->ok++;
    if (result == SLUICE_ERR_EXPORT) d->failed++;
  }
  d->events += event_count;
  d->last_exporter = exporter_id;
  pthread_mutex_unlock(&d->lock);
}

static void release_dispatch(void *userdata) {
  dispatch_log *d = (dispatch_log *)userdata;
  pthread_mutex_lock(&d->lock);
  d->released++;
  pthread_mutex_unlock(&d->lock);
}

static void dispatch_listeners(void) {
  sluice_store *store = NULL;
  CHECK_STATUS(sluice_store_new(NULL, &store), SLUICE_OK);
  dispatch_log d;
  memset(&d, 0, sizeof d);
  pthread_mutex_init(&d.lock, NULL);
  uint64_t listener = 0, second = 0, exporter = 0;
  CHECK_STATUS(sluice_store_add_listener(NULL, on_dispatch, &d, release_dispatch, &listener), SLUICE_ERR_NULL_ARGUMENT);
  CHECK_STATUS(sluice_store_add_listener(store, NULL, &d, release_dispatch, &listener), SLUICE_ERR_NULL_ARGUMENT);
  CHECK_STATUS(sluice_store_add_listener(store, on_dispatch, &d, release_dispatch, NULL), SLUICE_ERR_NULL_ARGUMENT);
  CHECK_STATUS(sluice_store_remove_listener(NULL, 1), SLUICE_ERR_NULL_ARGUMENT);
  CHECK_STATUS(sluice_store_add_listener(store, on_dispatch, &d, release_dispatch, &listener), SLUICE_OK);
  CHECK_STATUS(sluice_store_add_listener(store, on_dispatch, &d, release_dispatch, &second), SLUICE_OK);
  CHECK(listener != second);
  recorder r;
  recorder_init(&r);
  r.fail_first = 1;
  CHECK_STATUS(sluice_store_add_callback_exporter(store, "{\"initial_backoff_ms\":1}", record_batch, &r, release_recorder, &exporter),
               SLUICE_OK);
  add_user(store, 0);
  add_user(store, 1);
  CHECK_STATUS(sluice_store_flush(store, 10000), SLUICE_OK);
  /* Two listeners, each told of the failed attempt and of the retry. */
  CHECK(d.failed == 2);
  CHECK(d.ok == 2);
  CHECK(d.events == 8);
  CHECK(d.last_exporter == exporter);
  CHECK_STATUS(sluice_store_remove_listener(store, second), SLUICE_OK);
  CHECK(d.released == 1);
  CHECK_STATUS(sluice_store_remove_listener(store, second), SLUICE_ERR_NOT_FOUND);
  add_user(store, 2);
  CHECK_STATUS(sluice_store_flush(store, 10000), SLUICE_OK);
  CHECK(d.ok == 3);
  CHECK_STATUS(sluice_store_close(store, 10000), SLUICE_OK);
  CHECK(d.released == 2); /* close releases the rest */
  uint64_t late = 0;
  dispatch_log unused;
  memset(&unused, 0, sizeof unused);
  CHECK_STATUS(sluice_store_add_listener(store, on_dispatch, &unused, release_dispatch, &late), SLUICE_ERR_CLOSED);
  CHECK(unused.released == 0); /* a refused listener is never released */
  sluice_store_free(store);
  pthread_mutex_destroy(&d.lock);
  pthread_mutex_destroy(&r.lock);
}

/* ---------------------------------------------------------------- threads */

#define THREADS 4
#define PER_THREAD 20000

typedef struct producer {
  sluice_store *store;
  int thread;
  int failures;
} producer;

static void *produce(void *arg) {
  producer *p = (producer *)arg;
  char event[128];
  for (int i = 0; i < PER_THREAD; i++) {
    int n = snprintf(event, sizeof event, "{\"key\":\"k\",\"userKey\":\"%d-%d\"}", p->thread, i);
    if (sluice_store_add(p->store, event, (size_t)n) != SLUICE_OK) p->failures++;
  }
  return NULL;
}

typedef struct order_checker {
  int next[THREADS];
  long long events;
  int out_of_order;
} order_checker;

static int32_t check_order(void *userdata, const uint8_t *data, size_t len, size_t count) {
  order_checker *c = (order_checker *)userdata;
  /* The batch is not NUL-terminated: scan a terminated copy. */
  char *text = (char *)malloc(len + 1);
  memcpy(text, data, len);
  text[len] = '\0';
  const char *p = text;
  size_t seen = 0;
  while ((p = strstr(p, "\"userKey\":\"")) != NULL) {
    p += 11;
    int t = 0, i = 0;
    if (sscanf(p, "%d-%d", &t, &i) == 2 && t >= 0 && t < THREADS) {
      if (i != c->next[t]) c->out_of_order++;
      c->next[t] = i + 1;
      seen++;
    }
  }
  free(text);
  c->events += (long long)count;
  if (seen != count) c->out_of_order++;
  return 0;
}

static void many_threads(void) {
  sluice_store *store = NULL;
  CHECK_STATUS(sluice_store_new("{\"capacity\":1000000}", &store), SLUICE_OK);
  order_checker checker;
  memset(&checker, 0, sizeof checker);
  uint64_t id = 0;
  CHECK_STATUS(sluice_store_add_callback_exporter(store, "{\"max_batch_size\":500}", check_order, &checker, NULL, &id), SLUICE_OK);
  pthread_t threads[THREADS];
  producer producers[THREADS];
  for (int t = 0; t < THREADS; t++) {
    producers[t].store = store;
    producers[t].thread = t;
    producers[t].failures = 0;
    pthread_create(&threads[t], NULL, produce, &producers[t]);
  }
  for (int t = 0; t < THREADS; t++) {
    pthread_join(threads[t], NULL);
    CHECK(producers[t].failures == 0);
  }
  CHECK_STATUS(sluice_store_close(store, 60000), SLUICE_OK);
  CHECK(checker.events == THREADS * PER_THREAD);
  CHECK(checker.out_of_order == 0);
  for (int t = 0; t < THREADS; t++) CHECK(checker.next[t] == PER_THREAD);
  CHECK(store_stat(store, 0, "accepted") == THREADS * PER_THREAD);
  CHECK(store_stat(store, 1, "exported") == THREADS * PER_THREAD);
  sluice_store_free(store);
}

/* ---------------------------------------------------------------- a hung exporter */

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_open, gate_entered, gate_released;

static int32_t hang_until_opened(void *userdata, const uint8_t *data, size_t len, size_t count) {
  (void)userdata, (void)data, (void)len, (void)count;
  pthread_mutex_lock(&gate_lock);
  gate_entered++;
  pthread_cond_broadcast(&gate_cond);
  while (!gate_open) pthread_cond_wait(&gate_cond, &gate_lock);
  pthread_mutex_unlock(&gate_lock);
  return 0;
}

static void release_gate(void *userdata) {
  (void)userdata;
  pthread_mutex_lock(&gate_lock);
  gate_released++;
  pthread_cond_broadcast(&gate_cond);
  pthread_mutex_unlock(&gate_lock);
}

static void close_with_a_hung_exporter(void) {
  sluice_store *store = NULL;
  CHECK_STATUS(sluice_store_new(NULL, &store), SLUICE_OK);
  uint64_t id = 0;
  CHECK_STATUS(sluice_store_add_callback_exporter(store, "{\"bulk\":false}", hang_until_opened, NULL, release_gate, &id), SLUICE_OK);
  add_user(store, 0);
  add_user(store, 1);
  pthread_mutex_lock(&gate_lock);
  while (gate_entered == 0) pthread_cond_wait(&gate_cond, &gate_lock);
  pthread_mutex_unlock(&gate_lock);
  CHECK_STATUS(sluice_store_close(store, 100), SLUICE_ERR_TIMEOUT);
  CHECK(store_stat(store, 1, "shutdown") == 2);
  CHECK(store_stat(store, 1, "pending") == 0);
  CHECK(gate_released == 0);
  pthread_mutex_lock(&gate_lock);
  gate_open = 1;
  pthread_cond_broadcast(&gate_cond);
  while (gate_released == 0) pthread_cond_wait(&gate_cond, &gate_lock);
  pthread_mutex_unlock(&gate_lock);
  CHECK(gate_entered == 1); /* no callback started after close */
  CHECK(gate_released == 1);
  sluice_store_free(store);
  sleep_ms(50); /* let the detached thread finish before valgrind's leak check */
}

int main(void) {
  version_and_errors();
  null_arguments();
  bad_configs_and_options();
  bad_events();
  callback_exporter_batches_retries_and_releases();
  calls_from_inside_a_callback();
  pull_exporter();
  overflow_policies();
  remove_exporter();
  calls_after_close();
  logging();
  log_callback_removal_waits_for_calls_in_progress();
  close_honours_its_deadline_while_a_worker_is_in_the_log_callback();
  dispatch_listeners();
  many_threads();
  close_with_a_hung_exporter();
  return finish("c contract");
}
