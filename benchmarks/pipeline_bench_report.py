"""The pipeline benchmark's report: one table of contenders, the ratios, the per-op split, the demo run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline_bench_rss import Measured

__all__ = ["Row", "print_report", "rows_per_second"]


@dataclass(frozen=True)
class Row:
    """One contender: its label, its measurement (or why none), its (count, md5) and per-op split."""

    label: str
    outcome: Measured | str | None
    checksum: tuple[int, str] | None
    split: list[dict[str, Any]] | None = None

    @property
    def seconds(self) -> float | None:
        """Run storage start→end for Dagster runs, else the contender's own timing."""
        if not isinstance(self.outcome, Measured):
            return None
        result = self.outcome.result
        return float(result.get("run_seconds") or result["wall"])


def rows_per_second(row: Row) -> float | None:
    if row.seconds is None or row.checksum is None:
        return None
    return row.checksum[0] / row.seconds


def _gb(value: int) -> str:
    return f"{value / 2**30:.2f} GB"


def _line(row: Row, copy_rate: float | None, reference: tuple[int, str] | None) -> str:
    if not isinstance(row.outcome, Measured):
        return f"| {row.label} | {row.outcome or 'not run'} | | | | | | |"
    result, rate = row.outcome.result, rows_per_second(row)
    run = f"{result['run_seconds']:.2f}" if result.get("run_seconds") else "–"
    ratio = f"{rate / copy_rate:.3f}" if rate and copy_rate else "–"
    count, md5 = row.checksum or (0, "?")
    same = "=" if reference and (count, md5) == reference else "≠"
    return (f"| {row.label} | {count:,} | {run} | {float(result['wall']):.2f} | {rate or 0:,.0f} | {ratio} | "
            f"{_gb(row.outcome.peak_rss)} ({row.outcome.peak_process}) | {md5[:10]} {same} |")


def _ratios(rows: list[Row]) -> list[str]:
    by = {row.label.split(",")[0] + ("/launch" if "launched" in row.label else ""): row for row in rows}
    rates = {key: rows_per_second(row) for key, row in by.items()}
    project = [(k, v) for k, v in rates.items() if k.startswith("this project") and v]
    out = []
    for other in ("hand-written Polars (same logic as expressions) → COPY", "dlt"):
        theirs = rates.get(other)
        for key, mine in project:
            mode = "launched" if key.endswith("/launch") else "in process"
            if theirs:
                out.append(f"- project {mode} ÷ {other.split(' (')[0]}: {mine / theirs:.3f}")
    return out


def _splits(rows: list[Row]) -> None:
    measured = [(r.label.split("(")[0].strip(), r) for r in rows if r.split]
    if not measured:
        return
    print("\nper op, seconds (from `integration_executions.metadata`):\n")
    print("| op | in | out | " + " | ".join(label for label, _ in measured) + " |")
    print("| --- | ---: | ---: |" + " ---: |" * len(measured))
    first = measured[0][1].split or []
    for i, op in enumerate(first):
        cells = [f"{float(r.split[i]['seconds']):.2f}" if r.split and i < len(r.split) else "–" for _, r in measured]
        print(f"| {op.get('step')} | {op.get('records_in', 0):,} | {op.get('records_out', 0):,} | "
              + " | ".join(cells) + " |")
    rest = [f"{(r.seconds or 0) - sum(float(s['seconds']) for s in r.split or []):.2f}" for _, r in measured]
    print("| (Dagster: run and step starts, hand-over between ops, write-back) | | | " + " | ".join(rest) + " |")


def _demo(demo: Measured | str | None) -> None:
    if demo is None:
        return
    if not isinstance(demo, Measured):
        print(f"\ndemo (`integration-orchestrator demo`, 7 records): {demo}")
        return
    result = demo.result
    run = f"{result['run_seconds']:.2f} s" if result.get("run_seconds") else "?"
    print(f"\ndemo (`integration-orchestrator demo`, 7 records): run {result['run_id']} {result['status']}, "
          f"start→end in Dagster's run storage {run}; the whole command (migrate, seed, run, read back) "
          f"{float(result['wall']):.2f} s wall; peak RSS {_gb(demo.peak_rss)} ({demo.peak_process})")


def print_report(n: int, batch_size: int, rows: list[Row], copy: tuple[int, float] | None,
                 copy_sum: tuple[int, str] | None, demo: Measured | str | None) -> None:
    copy_rate = copy[0] / copy[1] if copy else None
    reference = copy_sum or next((r.checksum for r in rows if r.checksum), None)
    print(f"\n{n:,} records in, batch_size {batch_size:,}; rows = rows written (the filter drops cancelled ones)\n")
    print("| contender | rows | s, run start→end (run storage) | s, wall | rows/s | × plain COPY "
          "| peak RSS, largest process | md5 of rows |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for row in rows:
        print(_line(row, copy_rate, reference))
    if copy and copy_sum:
        print(f"| plain COPY of the final rows (best of 3) | {copy[0]:,} | – | {copy[1]:.2f} | "
              f"{copy_rate or 0:,.0f} | 1 | – | {copy_sum[1][:10]} = |")
    sums = {r.checksum for r in rows if r.checksum} | ({copy_sum} if copy_sum else set())
    print(f"\nchecksums: {'all equal' if len(sums) == 1 else 'DIFFER'} "
          f"({len(sums)} distinct (count, md5) over {len([r for r in rows if r.checksum]) + bool(copy_sum)} tables)")
    print("rows/s = rows ÷ seconds, the seconds being the run storage's start→end for Dagster runs and the "
          "wall clock otherwise; peak RSS: psutil samples every 50 ms of each contender's process tree, "
          "VmHWM of the contender process and ru_maxrss of its reaped children; the larger is shown")
    ratios = _ratios(rows)
    if ratios:
        print("\nratios of rows/s:\n" + "\n".join(ratios))
    _splits(rows)
    _demo(demo)
