"""`cdp sync`: preview or run the activation syncs configured in activation.yml."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path

from activation.config import ActivationConfig, load_config
from activation.destinations import destination_class
from activation.engine import SyncReport, run_syncs
from activation.report import exit_code
from cdp.erasure import rewrite_warehouse
from cdp.paths import project_dir, warehouse_path
from cdp.phones import to_e164
from cdp.project_vars import project_var


def activation_config_path() -> Path:
    """The file CDP_ACTIVATION_CONFIG names, else activation.yml in the project."""
    configured = os.environ.get("CDP_ACTIVATION_CONFIG")
    return Path(configured) if configured else project_dir() / "activation.yml"


def project_file() -> Path:
    """dbt_project.yml, which holds the channel registry (var cdp__channels) activation reads."""
    return project_dir() / "dbt_project.yml"


def load_activation_config() -> ActivationConfig:
    """activation.yml, with a relative consents.new_events_file read from the project directory."""
    config = load_config(activation_config_path(), project_file())
    events_file = config.consents.new_events_file
    if events_file and not Path(events_file).is_absolute():
        consents = config.consents.model_copy(update={"new_events_file": str(project_dir() / events_file)})
        config = config.model_copy(update={"consents": consents})
    return config


def phone_normaliser() -> Callable[[str], str | None]:
    """E.164 as staging makes it (cdp.phones.to_e164 with var cdp__default_phone_region): what
    resolves a new consent event's phone subject to a person."""
    return partial(to_e164, region=str(project_var("cdp__default_phone_region")))


def register(commands: argparse._SubParsersAction) -> None:
    sync_cmd = commands.add_parser("sync", help="sync audiences and planned messages to the messaging providers")
    sync_cmd.add_argument("--destination", help="only the syncs of this destination (a name in activation.yml)")
    sync_cmd.add_argument(
        "--dry-run", action="store_true", help="print what each sync would send; send and write nothing"
    )
    sync_cmd.add_argument(
        "--force", action="store_true", help="run a sync even when it would remove more than its max_remove_share"
    )
    sync_cmd.add_argument(
        "--stand-in",
        action="store_true",
        help="send to local provider stand-ins on 127.0.0.1 instead of the providers (demo credentials)",
    )
    sync_cmd.add_argument(
        "--consents",
        type=Path,
        metavar="FILE",
        help="a CSV of consent events recorded since the build (raw contract columns), checked just before sending",
    )
    sync_cmd.set_defaults(handler=sync)


def report_lines(report: SyncReport, dry_run: bool) -> list[str]:
    head = f"{report.sync} -> {report.destination} ({report.kind}, {report.mode}): {report.status}"
    if report.kind == "state":
        counts = (
            f"  adds {report.adds:,}, changes {report.changes:,}, removes {report.removes:,} "
            f"of {report.managed:,} synced"
        )
        if report.merges:
            counts += f", merges moved {report.merges:,}"
    else:
        counts = f"  sends {report.sends:,}"
    lines = [head, counts]
    if not dry_run and report.status not in ("skipped", "refused"):
        lines.append(
            f"  ok {report.ok:,}, rejected {report.rejected:,}, failed {report.failed:,}, unknown {report.unknown:,}, "
            f"skipped {report.skipped:,}, cancelled {report.cancelled:,}; {report.http_requests:,} requests, "
            f"{report.http_throttled:,} answered 429"
        )
        if report.deletions_done or report.deletions_pending:
            lines.append(
                f"  provider deletions of erased persons: {report.deletions_done:,} done, "
                f"{report.deletions_pending:,} pending (retried next run)"
            )
        if report.jobs_submitted or report.jobs_pending or report.job_rows_rejected:
            lines.append(
                f"  import jobs: {report.jobs_submitted:,} submitted, "
                f"{report.jobs_pending:,} still running (checked next run), "
                f"{report.job_rows_rejected:,} rows failed by a job"
            )
    if report.invalid:
        lines.append(f"  {report.invalid:,} source rows without a key were not synced")
    if dry_run:
        lines += [f"    {entry}" for entry in report.sample]
    if not dry_run and report.status == "needs_attention":
        lines.append(f"  needs attention: {'; '.join(report.attention_reasons())}")
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


def run_and_forget(config: ActivationConfig, now: datetime | None = None, **options) -> list[SyncReport]:
    """run_syncs on the project's warehouse; when a provider confirmed a deletion, the file is
    rewritten: the person's last synced values would stay in its free blocks (docs/privacy.md)."""
    reports = run_syncs(warehouse_path(), config, now=now, phone_to_e164=phone_normaliser(), **options)
    if any(report.deletions_done for report in reports):
        rewrite_warehouse(warehouse_path())
    return reports


def sync_to_standins(config: ActivationConfig | None = None, now: datetime | None = None, **options) -> StandinRun:
    """Run the syncs against a stateful provider stand-in on loopback.

    Every destination's base URL is pointed at the stand-in, whatever the file or a
    CDP_DESTINATION_<NAME>_BASE_URL says, and every credential variable holds a value the
    destination type declares its stand-in accepts (Destination.demo_credential) for the
    duration of the run, so that nothing can reach a real provider with a real key.
    """
    from activation.standins import Standin

    config = config or load_activation_config()
    destinations = config.destinations.values()
    with Standin() as standin:
        standin.configure(list(destinations))
        pointed = config.model_copy(
            update={"destinations": {d.name: d.model_copy(update={"base_url": standin.url}) for d in destinations}}
        )
        credentials = {
            variable: destination_class(d.type).demo_credential(credential, standin[d.type])
            for d in destinations
            for credential, variable in d.credentials.items()
        }
        with _environment(credentials):
            reports = run_and_forget(pointed, now=now, **options)
        return StandinRun(reports=reports, holdings=standin.holdings())


def print_reports(reports: list[SyncReport], dry_run: bool, destination: str | None = None) -> None:
    if not reports:
        print("no syncs configured" + (f" for destination {destination}" if destination else ""))
    for report in reports:
        for line in report_lines(report, dry_run):
            print(line)


def sync(args: argparse.Namespace, now: datetime | None = None) -> int:
    # A ConfigError is a ValueError: the CLI prints it as `cdp sync: <what and where>`.
    options = {
        "destination": args.destination,
        "dry_run": args.dry_run,
        "force": args.force,
        "consents_file": args.consents,
        "progress": args.progress,
    }
    if args.stand_in:
        run = sync_to_standins(now=now, **options)
        print_reports(run.reports, args.dry_run, args.destination)
        print_holdings(run.holdings)
        reports = run.reports
    else:
        reports = run_and_forget(load_activation_config(), now=now, **options)
        print_reports(reports, args.dry_run, args.destination)
    return exit_code(reports)


def print_holdings(holdings: dict[str, int]) -> None:
    print("The stand-ins (127.0.0.1, started for this run) received:")
    for name, count in holdings.items():
        print(f"  {name:<32}{count:>8,}")
