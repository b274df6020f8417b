"""Turns what the benchmark harnesses printed into one Markdown table per language, the targets
of issue 7 with PASS or MISS, sluice under pressure, and the machine.

    python3 benches/report.py RAW_DIR [--quick] [--write benches/RESULTS.md]

RAW_DIR holds the JSON lines of benches/rust-peers (`rust.jsonl`, `pressure.jsonl`),
benches/peers.py (`python.jsonl`) and benches/peers.mjs (`node.jsonl`), and what run.sh noted
when it built the library: `loadavg.start`, `commit` and `changes` (git status of the sources).
A row's figures are those of its median run by time; counters that differed between runs are
listed under the table. Standard library only: it runs with any python3.
"""

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Optional

# (table, title, reference row): ratios are against the reference row.
TABLES = [
    ("rust", "Rust / C", "c_add_1"),
    ("python", "Python", "add_dict"),
    ("node", "Node", "add_object"),
]
#: Rows whose reference row is meant to win by a factor: (table, what, peer rows, factor).
SPEEDUP_TARGETS = [
    ("rust", "OpenTelemetry's Rust BatchLogProcessor", ["otel_default", "otel_large"], 3),
    ("python", "OpenTelemetry Python", ["otel_default", "otel_large"], 4),
    ("python", "posthog", ["posthog_default", "posthog_large"], 10),
    ("node", "posthog-node", ["posthog_default", "posthog_large"], 10),
]
FLOOR_LIMIT = 25
#: The store's default max_bytes: memory under pressure is bounded when it grows by less.
PRESSURE_BOUND_BYTES = 64 << 20

Row = Dict[str, Any]


def read_lines(path: Path) -> List[Row]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def lost(run: Row) -> Optional[int]:
    if run.get("accepted") is None:
        return None
    return run["accepted"] - run["exported"] - run["dropped"]


class Table:
    """The runs of one table, grouped by row in the order of their first run."""

    def __init__(self, runs: List[Row]) -> None:
        self.versions: Dict[str, str] = {}
        self.rows: Dict[str, List[Row]] = {}
        for run in runs:
            if "versions" in run:
                self.versions.update(run["versions"])
            else:
                self.rows.setdefault(run["row"], []).append(run)

    def median_run(self, row: str) -> Row:
        runs = sorted(self.rows[row], key=lambda run: run["seconds"])
        return runs[(len(runs) - 1) // 2]

    def rate(self, row: str) -> float:
        run = self.median_run(row)
        return run["n"] / run["seconds"]

    def best_rate(self, rows: List[str]) -> Optional[float]:
        present = [self.rate(row) for row in rows if row in self.rows]
        return max(present) if present else None


def number(value: Optional[int]) -> str:
    return "—" if value is None else f"{value:,}"


def markdown_table(table: Table, reference: str) -> List[str]:
    lines = [
        "| row | events/s | ns/event | ns/event, fastest–slowest run | refused | accepted | exported "
        "| dropped (counted) | lost (not counted) | vs sluice |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    reference_rate = table.rate(reference)
    for row in table.rows:
        run = table.median_run(row)
        rate = table.rate(row)
        ratio = "1.00x (reference)" if row == reference else f"{rate / reference_rate:.2f}x"
        per_event = sorted(other["seconds"] / other["n"] * 1e9 for other in table.rows[row])
        lines.append(
            f"| {run['label']} | {rate:,.0f} | {run['seconds'] / run['n'] * 1e9:,.0f} "
            f"| {per_event[0]:,.0f}–{per_event[-1]:,.0f} | {number(run.get('refused'))} | {number(run.get('accepted'))} "
            f"| {number(run.get('exported'))} | {number(run.get('dropped'))} "
            f"| {number(lost(run))} | {ratio} |"
        )
    return lines


def varying_counters(table: Table) -> List[str]:
    """Rows whose counters were not the same in every run, and what peers still held at the end."""
    notes = []
    for row, runs in table.rows.items():
        label = runs[0]["label"]
        for name, values in (("dropped", [run.get("dropped") for run in runs]),
                             ("refused", [run.get("refused") for run in runs]),
                             ("lost", [lost(run) for run in runs])):
            if values[0] is not None and min(values) != max(values):
                notes.append(f"- {label}: {name} ranged from {min(values):,} to {max(values):,} "
                             f"over the {len(runs)} runs.")
        run = table.median_run(row)
        if run.get("queued_at_end"):
            silent = lost(run) - run["queued_at_end"]
            notes.append(f"- {label}: of the {lost(run):,} lost, {run['queued_at_end']:,} were "
                         f"still queued when its shutdown had had its {run['drain_seconds']:g} s"
                         + (f", and {silent:,} had left without a report (a full queue dropping "
                            "its oldest, or a batch in flight)" if silent else "")
                         + "; the application is told of none of them"
                         + (f" ({run['error_events']:,} `error` events said a flush failed, "
                            "naming no event)." if run.get("error_events") else "."))
    return notes


def targets(tables: Dict[str, Table], quick: bool) -> List[str]:
    lines = []

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    rust = tables.get("rust")
    if rust and "floor" in rust.rows and "c_add_1" in rust.rows:
        slower = rust.rate("floor") / rust.rate("c_add_1")
        lines.append(f"- {verdict(slower <= FLOOR_LIMIT)}: C `sluice_store_add` on one thread is "
                     f"{slower:.1f}x slower than the floor (target: within {FLOOR_LIMIT}x).")
    for name, what, peer_rows, factor in SPEEDUP_TARGETS:
        table = tables.get(name)
        reference = dict((t, r) for t, _, r in TABLES)[name]
        if not table or reference not in table.rows:
            continue
        label = table.median_run(reference)["label"]
        best = table.best_rate(peer_rows)
        if best is None:
            lines.append(f"- n/a: {label} against {what} ({'quick run: ' if quick else ''}"
                         "no peer rows).")
            continue
        speedup = table.rate(reference) / best
        lines.append(f"- {verdict(speedup >= factor)}: {label} accepts {speedup:.1f}x the rate of "
                     f"{what} (its faster row; target: at least {factor}x).")
    for name, reference in (("python", "add_dict"), ("node", "add_object")):
        table = tables.get(name)
        if not table or reference not in table.rows:
            continue
        runs = table.rows[reference]
        clean = all(lost(run) == 0 and run["dropped"] == 0 and run["refused"] == 0 for run in runs)
        lines.append(f"- {verdict(clean)}: {runs[0]['label']} lost, dropped and refused nothing "
                     f"in any of its {len(runs)} runs (target: zero loss).")
    return lines


def pressure_section(runs: List[Row]) -> List[str]:
    if not runs:
        return []
    p = runs[-1]
    growth = p["rss_after"] - p["rss_before"]
    mib = lambda b: f"{b / (1 << 20):,.1f} MiB"  # noqa: E731
    us = lambda ns: f"{ns / 1000:,.2f} µs"  # noqa: E731
    return [
        f"### Under pressure (Rust, C ABI): {p['n']:,} events into a store of capacity "
        f"{p['capacity']:,} whose only exporter always fails",
        "",
        "| peak RSS before | peak RSS after | growth | add p50 | add p99 | add p99.9 | add max "
        "| adds over 1 ms | accepted | exported | dropped (counted) | buffered at the end |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {mib(p['rss_before'])} | {mib(p['rss_after'])} | {mib(growth)} | {us(p['p50_ns'])} "
        f"| {us(p['p99_ns'])} | {us(p['p999_ns'])} | {us(p['max_ns'])} | {p['over_1ms']:,} "
        f"| {p['accepted']:,} | {p['exported']:,} | {p['dropped']:,} | {p['buffered_at_end']:,} |",
        "",
        f"Latencies are of the {p['timed_adds']:,} adds made once the buffer was full, each timed "
        "with two `Instant::now()` calls (included). The peak RSS before is taken after the "
        "store, its exporter and the latency array exist. Dropped counts the overflow while "
        "adding and the events still buffered at close (deadline 0).",
        "",
        f"- {'PASS' if growth <= PRESSURE_BOUND_BYTES else 'MISS'}: memory stayed bounded: peak "
        f"RSS grew by {mib(growth)} while {p['n'] * p['event_bytes'] / 1e6:,.0f} MB of events "
        f"went in (bound: {mib(PRESSURE_BOUND_BYTES)}, the store's default max_bytes).",
    ]


def command_version(command: List[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "not found"


def machine(raw: Path, tables: Dict[str, Table]) -> List[str]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.M)

    def noted(name: str) -> str:
        return (raw / name).read_text() if (raw / name).exists() else ""

    load_start = noted("loadavg.start").split()[:3]
    load_end = Path("/proc/loadavg").read_text().split()[:3]
    python = tables["python"].versions.get("python") if "python" in tables else None
    commit = noted("commit").strip() or "unknown"
    changes = noted("changes").splitlines()
    return [
        f"- Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- sluice: commit {commit}"
        + (f", with uncommitted changes to {', '.join(line[3:] for line in changes)}"
           if changes else ""),
        f"- Machine: {os.cpu_count()} cores, {model.group(1) if model else 'unknown CPU'}, "
        f"{platform.system()} {platform.release()}",
        f"- Load average (1, 5, 15 min) at the start: {' '.join(load_start) or 'unknown'}; "
        f"at the end: {' '.join(load_end)}",
        f"- {command_version(['rustc', '--version'])}; "
        f"Python {python or platform.python_version()}; "
        f"Node {command_version(['node', '--version'])}",
    ]


def versions_line(name: str, table: Table) -> str:
    versions = dict(table.versions)
    if name == "rust" and "otel_default" in table.rows:
        lock = Path(__file__).with_name("rust-peers") / "Cargo.lock"
        if lock.exists():
            found = re.search(r'name = "opentelemetry_sdk"\nversion = "([^"]+)"', lock.read_text())
            if found:
                versions["opentelemetry_sdk"] = found.group(1)
    return ", ".join(f"{k} {v}" for k, v in versions.items())


def report(raw: Path, quick: bool) -> str:
    tables = {name: Table(read_lines(raw / f"{name}.jsonl")) for name, _, _ in TABLES}
    tables = {name: table for name, table in tables.items() if table.rows}
    out = ["# sluice beside the libraries users would pick instead", ""]
    out += [
        ("Produced by `benches/run.sh --quick` (sluice rows only, small N)" if quick
         else "Produced by `benches/run.sh`")
        + ". Every row adds the same event (165 bytes of JSON: kind, contextKind, creationDate, "
        "key, userKey, variation, value, default; the peers take the same fields in their own "
        "API) N times. events/s and ns/event time the calls alone (end-to-end rows: until the "
        "flush returns), median of the runs, which alternate the rows' order, each Python and "
        "Node run in a process of its own. Then the pipeline is shut down and counted: "
        "*accepted* by the call, *refused* by the call (the caller was told), *exported* as "
        "counted by the consumer itself, *dropped* as the library reported it (stats, "
        "`on_error`, error events, its own warnings), and *lost* = accepted − exported − "
        "dropped, which nobody reported. The peers post to a closed port on 127.0.0.1 with "
        "their default retries, so they export nothing, and their shutdown has a deadline. "
        "*vs sluice*: this row's events/s over the reference row's. The machine is shared: the "
        "fastest–slowest column shows how much the runs of a row varied.",
        "",
    ]
    out += machine(raw, tables) + [""]
    for name, title, reference in TABLES:
        table = tables.get(name)
        if not table:
            continue
        first = next(iter(table.rows.values()))
        runs = len(first)
        out += [f"## {title}: {first[0]['n']:,} events per row, median of {runs} runs", "",
                versions_line(name, table), ""]
        out += markdown_table(table, reference) + [""]
        notes = varying_counters(table)
        if notes:
            out += notes + [""]
        if name == "rust":
            out += pressure_section(read_lines(raw / "pressure.jsonl")) + [""]
    out += ["## Targets", ""] + targets(tables, quick) + [""]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("raw", type=Path, help="the folder of the harnesses' JSON lines")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--write", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    text = report(args.raw, args.quick)
    print(text)
    if args.write:
        args.write.write_text(text)


if __name__ == "__main__":
    main()
