"""`cdp sync`: preview or run the activation syncs configured in activation.yml."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime

from activation.config import ActivationConfig, load_config
from activation.engine import SyncReport, run_syncs
from cdp.paths import warehouse_path


def register(commands: argparse._SubParsersAction) -> None:
    sync_cmd = commands.add_parser("sync", help="sync audiences and planned messages to the messaging providers")
    sync_cmd.add_argument("--destination", help="only the syncs of this destination (a name in activation.yml)")
    sync_cmd.add_argument("--dry-run", action="store_true", help="print what each sync would send; send and write nothing")
    sync_cmd.add_argument("--force", action="store_true", help="run a sync even when it would remove more than its max_remove_share")
    sync_cmd.add_argument("--stand-in", action="store_true",
                          help="send to local provider stand-ins on 127.0.0.1 instead of the providers (demo credentials)")
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
        if report.jobs_submitted or report.jobs_pending or report.job_rows_rejected:
            lines.append(
                f"  import jobs: {report.jobs_submitted:,} submitted, {report.jobs_pending:,} still running (checked next run), "
                f"{report.job_rows_rejected:,} rows failed by a job"
            )
    if report.invalid:
        lines.append(f"  {report.invalid:,} source rows without a key were not synced")
    if dry_run:
        lines += [f"    {entry}" for entry in report.sample]
    if report.error:
        lines.append(f"  {report.error}")
    return lines


@dataclass
class StandinRun:
    reports: list[SyncReport]
    holdings: dict[str, int]


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def sync_to_standins(config: ActivationConfig | None = None, now: datetime | None = None, **options) -> StandinRun:
    """Run the syncs against a stateful provider stand-in on loopback.

    Every destination's base URL is pointed at the stand-in, whatever the file or a
    CDP_DESTINATION_<NAME>_BASE_URL says, and every credential variable holds a demo value
    for the duration of the run, so that nothing can reach a real provider with a real key.
    """
    from activation.standin import Standin

    config = config or load_config()
    secret = "demo-webhook-secret"
    webhook_paths = [d.settings.get("path", "") for d in config.destinations.values() if d.type == "webhook"]
    with Standin(webhook_secret=secret, webhook_path=webhook_paths[0] if webhook_paths else "/hook") as standin:
        pointed = replace(config, destinations={name: replace(d, base_url=standin.url) for name, d in config.destinations.items()})
        credentials = {
            variable: _demo_credential(credential, standin, secret)
            for destination in config.destinations.values() for credential, variable in destination.credentials.items()
        }
        with _environment(credentials):
            reports = run_syncs(warehouse_path(), pointed, now=now, **options)
        return StandinRun(reports=reports, holdings=standin.holdings())


def _demo_credential(name: str, standin, webhook_secret: str) -> str:
    """A throw-away value the stand-in accepts for the credential ``name``."""
    if name == "signing_secret":
        return webhook_secret
    if name == "service_account_key":
        # A fresh key whose token endpoint is the stand-in, which then checks the tokens.
        return standin.service_account_key()
    return f"demo-{name}"


def print_reports(reports: list[SyncReport], dry_run: bool, destination: str | None = None) -> None:
    if not reports:
        print("no syncs configured" + (f" for destination {destination}" if destination else ""))
    for report in reports:
        for line in report_lines(report, dry_run):
            print(line)


def sync(args: argparse.Namespace, now: datetime | None = None) -> int:
    # A ConfigError is a ValueError: the CLI prints it as `cdp sync: <what and where>`.
    options = {"destination": args.destination, "dry_run": args.dry_run, "force": args.force}
    if args.stand_in:
        run = sync_to_standins(now=now, **options)
        print_reports(run.reports, args.dry_run, args.destination)
        print_holdings(run.holdings)
        reports = run.reports
    else:
        reports = run_syncs(warehouse_path(), load_config(), now=now, **options)
        print_reports(reports, args.dry_run, args.destination)
    return 1 if any(r.status in ("failed", "refused") for r in reports) else 0


def print_holdings(holdings: dict[str, int]) -> None:
    print("The stand-ins (127.0.0.1, started for this run) received:")
    for name, count in holdings.items():
        print(f"  {name:<32}{count:>8,}")
