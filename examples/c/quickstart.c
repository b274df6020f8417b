/* sluice quick start: two threads record feature and tracking events, a callback exporter
 * prints each batch, then flush, stats and close. Build and run: make demo */
#include "sluice.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Runs on the exporter's own library thread; `data` is valid only during the call. */
static int32_t print_batch(void *userdata, const uint8_t *data, size_t len, size_t event_count) {
  const char *name = (const char *)userdata;
  printf("[%s] batch of %zu events (%zu bytes): %.*s\n", name, event_count, len, (int)len, (const char *)data);
  return 0; /* 0: exported; anything else: retried later, in order */
}

static void on_log(void *userdata, sluice_log_level level, const char *message) {
  (void)userdata;
  fprintf(stderr, "sluice log (%d): %s\n", (int)level, message);
}

static void *record_features(void *arg) {
  sluice_store *store = (sluice_store *)arg;
  char event[256];
  for (int i = 0; i < 5; i++) {
    int n = snprintf(event, sizeof event,
                     "{\"key\":\"new-checkout\",\"contextKind\":\"user\",\"userKey\":\"u-%d\","
                     "\"variation\":\"on\",\"value\":true,\"default\":false,\"version\":\"v3\",\"source\":\"SERVER\"}",
                     i);
    if (sluice_store_add(store, event, (size_t)n) != SLUICE_OK) fprintf(stderr, "add: %s\n", sluice_last_error());
  }
  return NULL;
}

static void *record_tracking(void *arg) {
  sluice_store *store = (sluice_store *)arg;
  char event[256];
  for (int i = 0; i < 3; i++) {
    int n = snprintf(event, sizeof event,
                     "{\"kind\":\"tracking\",\"key\":\"checkout-completed\",\"userKey\":\"u-%d\","
                     "\"evaluationContext\":{\"plan\":\"pro\"},\"trackingEventDetails\":{\"total\":99.5}}",
                     i);
    if (sluice_store_add(store, event, (size_t)n) != SLUICE_OK) fprintf(stderr, "add: %s\n", sluice_last_error());
  }
  return NULL;
}

int main(void) {
  printf("sluice %s\n", sluice_version());
  sluice_set_log_callback(on_log, NULL, SLUICE_LOG_WARN);

  sluice_store *store = NULL;
  if (sluice_store_new("{\"capacity\":10000,\"overflow\":\"drop_oldest\"}", &store) != SLUICE_OK) {
    fprintf(stderr, "store: %s\n", sluice_last_error());
    return 1;
  }
  static char name[] = "stdout";
  uint64_t exporter_id = 0;
  if (sluice_store_add_callback_exporter(store, "{\"name\":\"stdout\",\"max_batch_size\":4,\"flush_interval_ms\":1000}",
                                         print_batch, name, NULL, &exporter_id) != SLUICE_OK) {
    fprintf(stderr, "exporter: %s\n", sluice_last_error());
    return 1;
  }

  pthread_t features, tracking;
  pthread_create(&features, NULL, record_features, store);
  pthread_create(&tracking, NULL, record_tracking, store);
  pthread_join(features, NULL);
  pthread_join(tracking, NULL);

  /* A bad event gets a clear status and message, and is counted. */
  const char *bad = "{\"userKey\": 42}";
  sluice_status status = sluice_store_add(store, bad, strlen(bad));
  printf("bad event: %s: %s\n", sluice_status_name(status), sluice_last_error());

  status = sluice_store_flush(store, 5000);
  printf("flush: %s\n", sluice_status_name(status));

  char *stats = NULL;
  if (sluice_store_stats(store, &stats) == SLUICE_OK) {
    printf("stats: %s\n", stats);
    sluice_string_free(stats);
  }
  status = sluice_store_close(store, 5000);
  printf("close: %s\n", sluice_status_name(status));
  sluice_store_free(store);
  return 0;
}
