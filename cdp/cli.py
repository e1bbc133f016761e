"""The `cdp` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cdp import demo, explain, generate, sync_cli
from cdp.build import BuildResult, build, parse_as_of
from cdp.contract import contract_markdown, raw_contract
from cdp.dbt_runner import DbtError
from cdp.paths import project_dir
from cdp.raw_loader import RawContractError
from cdp.summary import summary_lines
from cdp.warehouse import open_warehouse


def _build(args: argparse.Namespace) -> int:
    as_of = parse_as_of(args.as_of) if args.as_of else None
    print_build_report(build(raw_dir=args.raw_dir, as_of=as_of, target=args.target))
    return 0


def print_build_report(result: BuildResult) -> None:
    print()
    where = "the Spark warehouse" if result.target == "spark" else result.warehouse
    print(f"Built {where} from {result.raw_dir} as of {result.as_of.isoformat()}Z")
    print(f"Loaded {result.load.rows:,} raw rows from {sum(1 for t in result.load.tables if t.file)} files")
    ignored: dict[str, list[str]] = {}
    for table in result.load.tables:
        for column in table.ignored_columns:
            ignored.setdefault(column, []).append(table.file)
    for column, files in sorted(ignored.items()):
        print(f"  ignored column not in the contract: {column} (in {len(files)} file{'s' if len(files) > 1 else ''})")
    warehouse = open_warehouse(result.target, read_only=True)
    try:
        for line in summary_lines(warehouse):
            print(line)
    finally:
        warehouse.close()


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
    build_cmd.add_argument("--raw-dir", type=Path, help="folder of <table>.csv/.parquet files (default: bundled demo data)")
    build_cmd.add_argument("--as-of", help="ISO-8601 timestamp used as 'now' by every model (default: now; demo: its own date)")
    build_cmd.add_argument("--target", help="dbt target from profiles.yml (default: duckdb)")
    build_cmd.set_defaults(handler=_build)

    contract_cmd = commands.add_parser("contract", help="print the raw source contract as Markdown")
    contract_cmd.add_argument("--write", action="store_true", help="write docs/raw-source-contract.md instead")
    contract_cmd.set_defaults(handler=_contract)

    generate.register(commands)
    explain.register(commands)
    sync_cli.register(commands)
    demo.register(commands)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.handler(args)
    except (RawContractError, ValueError, FileNotFoundError) as error:
        print(f"cdp {args.command}: {error}", file=sys.stderr)
        return 2
    except DbtError as error:
        print(f"cdp {args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
