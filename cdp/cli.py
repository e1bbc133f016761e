"""The `cdp` command."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from activation.state import StateError
from cdp import demo, explain, generate, sync_cli
from cdp.build import build, parse_as_of, print_build_report
from cdp.contract import contract_markdown, raw_contract
from cdp.dbt_runner import DbtError
from cdp.paths import project_dir
from cdp.progress import add_verbosity_flags, command_output, verbosity_level
from cdp.raw_loader import RawContractError
from cdp.steps import prepare_activation_state
from cdp.warehouse import WarehouseLockedError, warehouse_lock

# Commands that read or write the warehouse outside `cdp build` (which takes the lock
# itself, for the whole build), and whether they only read it.
_LOCKING_COMMANDS = {"sync": False, "explain": True, "migrate": False, "demo": False}


def _build(args: argparse.Namespace) -> int:
    as_of = parse_as_of(args.as_of) if args.as_of else None
    print_build_report(build(raw_dir=args.raw_dir, as_of=as_of, target=args.target, progress=args.progress))
    return 0


def _migrate(args: argparse.Namespace) -> int:
    print(prepare_activation_state(args.target))
    return 0


def _contract(args: argparse.Namespace) -> int:
    text = contract_markdown(raw_contract())
    if args.write:
        target = project_dir() / "docs" / "raw-source-contract.md"
        target.write_text(text)
        print(f"wrote {target}")
    else:
        print(text)
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="cdp", description="Warehouse-native customer data platform for retailers.")
    commands = root.add_subparsers(dest="command", required=True)

    build_cmd = commands.add_parser("build", help="load raw files and build every model")
    build_cmd.add_argument(
        "--raw-dir", type=Path, help="folder of <table>.csv/.parquet files (default: bundled demo data)"
    )
    build_cmd.add_argument(
        "--as-of", help="ISO-8601 timestamp used as 'now' by every model (default: now; demo: its own date)"
    )
    build_cmd.add_argument("--target", help="dbt target from profiles.yml (default: duckdb)")
    build_cmd.set_defaults(handler=_build)

    migrate_cmd = commands.add_parser(
        "migrate",
        help="create or migrate activation's tables in the warehouse (cdp build does it first; "
        "run it before a plain `dbt build` on a new warehouse)",
    )
    migrate_cmd.add_argument("--target", help="dbt target from profiles.yml (default: duckdb)")
    migrate_cmd.set_defaults(handler=_migrate)

    contract_cmd = commands.add_parser("contract", help="print the raw source contract as Markdown")
    contract_cmd.add_argument("--write", action="store_true", help="write docs/raw-source-contract.md instead")
    contract_cmd.set_defaults(handler=_contract)

    generate.register(commands)
    explain.register(commands)
    sync_cli.register(commands)
    demo.register(commands)
    for command in commands.choices.values():
        add_verbosity_flags(command)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        with command_output(verbosity_level(args)) as args.progress:
            if args.command in _LOCKING_COMMANDS and getattr(args, "target", None) != "spark":
                with warehouse_lock(f"cdp {args.command}", shared=_LOCKING_COMMANDS[args.command]):
                    return args.handler(args)
            return args.handler(args)
    except (RawContractError, ValueError, FileNotFoundError, StateError, WarehouseLockedError) as error:
        print(f"cdp {args.command}: {error}", file=sys.stderr)
        return 2
    except DbtError as error:
        print(f"cdp {args.command}: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`cdp contract | head`): stop quietly, as Unix tools do.
        # stdout points at /dev/null so that the interpreter's last flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
