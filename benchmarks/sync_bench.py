"""`make bench-sync`: a 1M-member audience synced to the loopback stand-in under a
provider's documented rate limit, by activation and by drt-core, figures side by side.

The stand-in enforces Klaviyo's documented limit for profile bulk import jobs (burst 10
per second, steady 150 per minute: a token bucket of 10 refilled at 2.5 per second) and
answers 429 with Retry-After past it. Printed per tool:

* throughput: rows per second, and as a share of the fastest pace the limit allows for
  the requests the sync needed ((requests - burst) / steady rate seconds), measured
  end to end (reading the audience, diffing, sending, committing state);
* the share of requests answered 429;
* rows sent again by an immediate re-run with nothing changed.

Figures are printed, never asserted. `BENCH_SYNC_ROWS` changes the audience size.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import requests

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from activation.channels import read_channels  # noqa: E402
from activation.config import parse_config  # noqa: E402
from activation.destinations.klaviyo import Klaviyo  # noqa: E402
from activation.engine import run_syncs  # noqa: E402

ROWS = int(os.environ.get("BENCH_SYNC_ROWS", "1000000"))
LIMIT = Klaviyo.default_rate_limits["bulk_import"]  # the documented limit, as configured by default
BATCH = Klaviyo.default_batch_sizes["upsert"]
PATH = "/api/profile-bulk-import-jobs"
FIELDS = ("email", "first_name", "loyalty_tier")


@dataclass
class Figures:
    tool: str
    seconds: float
    requests: int
    throttled: int
    rows_received: int
    rerun_rows: int | None
    note: str = ""

    def lines(self) -> list[str]:
        fastest = max(self.requests - LIMIT.burst, 0) / LIMIT.per_second
        share = fastest / self.seconds if self.seconds else 0.0
        rerun = "n/a" if self.rerun_rows is None else f"{self.rerun_rows:,}"
        return [
            f"{self.tool}:",
            f"  rows delivered          {self.rows_received:,} in {self.seconds:.1f} s "
            f"= {self.rows_received / self.seconds:,.0f} rows/s",
            f"  requests                {self.requests:,} ({self.requests / self.seconds:.2f}/s; "
            f"limit {LIMIT.per_second:g}/s steady, burst {LIMIT.burst})",
            f"  share of the limit      {share:.0%} (target >= 80%)",
            f"  answered 429            {self.throttled / max(self.requests, 1):.2%} "
            f"({self.throttled} of {self.requests}; target <= 1%)",
            f"  unchanged re-run sent   {rerun} rows (target 0)" + (f"  [{self.note}]" if self.note else ""),
        ]


def build_audience(path: Path) -> None:
    with duckdb.connect(str(path)) as conn:
        conn.execute("create schema marts")
        conn.execute(f"""
            create table marts.sync_bench__members as
            select 'p' || lpad(cast(i as varchar), 8, '0') as person_id, 'p' || i || '@example.com' as email,
                   'First' || (i % 1000) as first_name,
                   case when i % 7 = 0 then 'gold' else 'silver' end as loyalty_tier
            from range(1, {ROWS} + 1) t(i)
        """)


class StandinProcess:
    """The stand-in in its own process, so the tool measured and the server share no interpreter."""

    def __enter__(self) -> StandinProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "activation.standins", "--limit", f"{PATH}={LIMIT.per_second}:{LIMIT.burst}"],
            cwd=PROJECT,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = self.process.stdout.readline().strip()
        return self

    def stats(self) -> tuple[int, int, int]:
        stats = requests.get(self.url + "/_stats", timeout=10).json()
        return stats["requests"].get(PATH, 0), stats["throttled"], stats["profile_rows_received"]

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def standin() -> StandinProcess:
    return StandinProcess()


def ours(warehouse: Path) -> Figures:
    os.environ["BENCH_KLAVIYO_KEY"] = "pk_bench"
    with standin() as server:
        config = parse_config(
            {
                # The sync returns once Klaviyo acknowledged every batch; the import jobs are
                # checked by the re-run (their status endpoint has its own limit), timed apart.
                "destinations": {
                    "klaviyo": {
                        "type": "klaviyo",
                        "base_url": server.url,
                        "credentials": {"api_key": "BENCH_KLAVIYO_KEY"},
                        "settings": {"list_id": "BENCH"},
                        "job_wait_seconds": 0,
                    }
                },
                "syncs": [
                    {
                        "name": "bench_members",
                        "source": "marts.sync_bench__members",
                        "destination": "klaviyo",
                        "kind": "state",
                        "mode": "mirror",
                        "key": "person_id",
                        "fields": list(FIELDS),
                    }
                ],
                "merge_log": None,
            },
            read_channels(PROJECT / "dbt_project.yml"),
        )
        started = time.monotonic()
        report = run_syncs(warehouse, config)[0]
        seconds = time.monotonic() - started
        if report.status != "succeeded":
            raise SystemExit(f"activation sync failed: {report.error}")
        first = server.stats()
        started = time.monotonic()
        rerun = run_syncs(warehouse, config)[0]
        rerun_seconds = time.monotonic() - started
        rerun_rows = server.stats()[2] - first[2]
        note = (
            f"the re-run first checked the {report.jobs_submitted} import jobs of the sync, "
            f"{rerun.jobs_pending} left running, in {rerun_seconds:.0f} s (job status limit 150/min)"
        )
        return Figures("activation (this project)", seconds, first[0], first[1], first[2], rerun_rows, note=note)


# A Jinja batch template that renders the same JSON:API body as the Klaviyo destination.
DRT_BATCH_TEMPLATE = (
    '{"data": {"type": "profile-bulk-import-job", "attributes": {"profiles": {"data": ['
    "{% for row in rows %}"
    '{"type": "profile", "attributes": {"external_id": {{ row.person_id | tojson }}, '
    '"email": {{ row.email | tojson }}, '
    '"first_name": {{ row.first_name | tojson }}, "properties": {"loyalty_tier": {{ row.loyalty_tier | tojson }}}}}'
    "{% if not loop.last %},{% endif %}{% endfor %}"
    ']}}, "relationships": {"lists": {"data": [{"type": "list", "id": "BENCH"}]}}}}'
)


def drt(warehouse: Path) -> Figures | str:
    drt_cli = Path(sys.executable).with_name("drt")
    if not drt_cli.exists():
        return "drt-core is not installed (pip install -e '.[bench]'; `make bench-sync` does)"
    work = Path(tempfile.mkdtemp(prefix="drt-bench-"))
    try:
        home = work / "home"
        (home / ".drt").mkdir(parents=True)
        (home / ".drt" / "profiles.yml").write_text(
            json.dumps({"bench": {"type": "duckdb", "database": str(warehouse)}})
        )
        project = work / "project"
        (project / "syncs").mkdir(parents=True)
        (project / "drt_project.yml").write_text(json.dumps({"name": "bench", "version": "0.1", "profile": "bench"}))
        with standin() as server:
            sync = {
                "name": "bench_members",
                "model": "select person_id, email, first_name, loyalty_tier from marts.sync_bench__members",
                "destination": {
                    "type": "rest_api",
                    "url": server.url + PATH,
                    "method": "POST",
                    "headers": {
                        "Content-Type": "application/vnd.api+json",
                        "revision": "2026-07-15",
                        "Authorization": "Klaviyo-API-Key pk_bench",
                    },
                    "body_mode": "batch",
                    "batch_template": DRT_BATCH_TEMPLATE,
                    "max_records_per_request": BATCH,
                },
                # drt's best settings for this job: full batches, the documented limit as its own
                # limiter, and its retry policy (which honours Retry-After).
                "sync": {
                    "mode": "full",
                    "batch_size": BATCH,
                    "on_error": "fail",
                    "rate_limit": {"requests_per_second": LIMIT.per_second, "burst": LIMIT.burst},
                },
            }
            (project / "syncs" / "bench_members.yml").write_text(json.dumps(sync))
            env = os.environ | {"HOME": str(home)}
            started = time.monotonic()
            first = subprocess.run(
                [str(drt_cli), "run", "--select", "bench_members"], cwd=project, env=env, capture_output=True, text=True
            )
            seconds = time.monotonic() - started
            if first.returncode != 0:
                return f"drt run failed (exit {first.returncode}): {(first.stdout + first.stderr).strip()[-800:]}"
            figures = server.stats()
            second = subprocess.run(
                [str(drt_cli), "run", "--select", "bench_members"], cwd=project, env=env, capture_output=True, text=True
            )
            if second.returncode != 0:
                return f"drt re-run failed (exit {second.returncode}): {(second.stdout + second.stderr).strip()[-800:]}"
            rerun_rows = server.stats()[2] - figures[2]
            return Figures(
                "drt-core " + _drt_version(),
                seconds,
                figures[0],
                figures[1],
                figures[2],
                rerun_rows,
                note="drt keeps no per-row state for a DuckDB source: its diff and idempotency ledger need "
                "Postgres, Snowflake, BigQuery or Databricks",
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _drt_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("drt-core")
    except PackageNotFoundError:
        return "?"


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="sync-bench-"))
    try:
        print(
            f"Syncing {ROWS:,} audience members to the stand-in enforcing Klaviyo's profile bulk import limit "
            f"({LIMIT.burst}/s burst, {LIMIT.per_second * 60:g}/min steady), {BATCH:,} profiles per request"
        )
        ours_warehouse, drt_warehouse = work / "ours.duckdb", work / "drt.duckdb"
        build_audience(ours_warehouse)
        shutil.copy(ours_warehouse, drt_warehouse)
        for line in ours(ours_warehouse).lines():
            print(line)
        result = drt(drt_warehouse)
        if isinstance(result, str):
            print(f"drt-core: no figures: {result}")
        else:
            for line in result.lines():
                print(line)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
