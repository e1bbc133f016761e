"""`cdp sync`: preview or run the activation syncs configured in activation.yml."""

from __future__ import annotations

import argparse
from datetime import datetime

from activation.config import load_config
from activation.engine import SyncReport, run_syncs
from cdp.paths import warehouse_path


def register(commands: argparse._SubParsersAction) -> None:
    sync_cmd = commands.add_parser("sync", help="sync audiences and planned messages to the messaging providers")
    sync_cmd.add_argument("--destination", help="only the syncs of this destination (a name in activation.yml)")
    sync_cmd.add_argument("--dry-run", action="store_true", help="print what each sync would send; send and write nothing")
    sync_cmd.add_argument("--force", action="store_true", help="run a sync even when it would remove more than its max_remove_share")
    sync_cmd.set_defaults(handler=sync)


def report_lines(report: SyncReport, dry_run: bool) -> list[str]:
    head = f"{report.sync} -> {report.destination} ({report.kind}, {report.mode}): {report.status}"
    if report.kind == "state":
        counts = f"  adds {report.adds:,}, changes {report.changes:,}, removes {report.removes:,} of {report.managed:,} synced"
        if report.merges:
            counts += f", merges moved {report.merges:,}"
    else:
        counts = f"  sends {report.sends:,}"
    lines = [head, counts]
    if not dry_run and report.status not in ("skipped", "refused"):
        lines.append(
            f"  ok {report.ok:,}, rejected {report.rejected:,}, failed {report.failed:,}, unknown {report.unknown:,}, "
            f"skipped {report.skipped:,}; {report.http_requests:,} requests, {report.http_throttled:,} answered 429"
        )
    if report.invalid:
        lines.append(f"  {report.invalid:,} source rows without a key were not synced")
    if dry_run:
        lines += [f"    {entry}" for entry in report.sample]
    if report.error:
        lines.append(f"  {report.error}")
    return lines


def sync(args: argparse.Namespace, now: datetime | None = None) -> int:
    # A ConfigError is a ValueError: the CLI prints it as `cdp sync: <what and where>`.
    reports = run_syncs(warehouse_path(), load_config(), destination=args.destination, dry_run=args.dry_run, force=args.force, now=now)
    if not reports:
        print("no syncs configured" + (f" for destination {args.destination}" if args.destination else ""))
    for report in reports:
        for line in report_lines(report, args.dry_run):
            print(line)
    return 1 if any(r.status in ("failed", "refused") for r in reports) else 0
