"""`cdp demo` (what `make demo` runs): build the demo, plan the messages, sync them to
local provider stand-ins, and print what happened.

Run it twice: the second run builds the plan again from the same data, finds every
message it sent the first time recorded as sent (activation.message_events, read back
by the models) and sends nothing new.
"""

from __future__ import annotations

import argparse

from activation.report import exit_code
from cdp.sync_cli import print_holdings, print_reports, sync_to_standins


def register(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser(
        "demo",
        help="build the bundled demo, sync its audiences and messages to local provider stand-ins, print what happened",
    )
    command.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from cdp.build import build, print_build_report

    result = build()
    print_build_report(result)
    print()
    print(
        f"Syncing to local provider stand-ins (nothing leaves 127.0.0.1); messages due by {result.as_of.isoformat()}Z:"
    )
    # The demo's "now" is its as-of moment, so that what is due does not depend on the day it runs.
    run = sync_to_standins(now=result.as_of)
    print_reports(run.reports, dry_run=False)
    print_holdings(run.holdings)
    return exit_code(run.reports)
