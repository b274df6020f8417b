"""sluice quick start: record feature and tracking events, export them in batches, read the stats.

Run it with `make demo`, or `bindings/python/run.sh examples/python/quickstart.py`.
"""

import json
import logging

import sluice

# The library's own log lines (retries, dropped events) go to the "sluice" logger.
logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s: %(message)s")


def send(events: list) -> None:
    """Runs on a library thread with each batch (a list of dicts). Raise, or return False, and
    the same events are offered again, in order, after a backoff."""
    print(f"exporting {len(events)} events:")
    for event in events:
        print("  " + json.dumps(event))


def on_dispatch(dispatch: sluice.Dispatch) -> None:
    """Hears of every export attempt of every exporter, retries included."""
    outcome = "exported" if dispatch.ok else "failed, will retry"
    print(f"exporter {dispatch.exporter_id}: {dispatch.event_count} events {outcome}")


with sluice.Store(capacity=100_000) as store:
    store.on_dispatch(on_dispatch)
    store.add_exporter(send, name="stdout", max_batch_size=500, flush_interval=5.0)

    store.feature("new-checkout", user_key="u-42", variation="on", value=True, default=False,
                  context_kind="user", version="v3", source="SERVER")
    store.track("checkout-completed", user_key="u-42", details={"total": 99.5})
    store.add(b'{"key": "dark-mode", "userKey": "u-7", "variation": "off", "value": false}')

    store.flush(timeout=5.0)  # waits until the exporter has every event added so far
    exporter = store.stats()["exporters"][0]
    print(f"exporter {exporter['name']!r}: {exporter['exported']} exported, "
          f"{exporter['pending']} pending, {exporter['dropped']} dropped")
# Leaving the `with` block closes the store: intake stops and the exporters are released.
