"""Serve the stand-ins in their own process: `python -m activation.standins [--limit PATH=PER_SECOND:BURST ...]`.

The benchmark keeps client and server off one interpreter lock this way. Prints the URL
on the first line, serves GET /_stats, and stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import gc
import signal
import sys

from activation.standins import Limit, Standin


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m activation.standins")
    parser.add_argument("--limit", action="append", default=[], help="PATH=PER_SECOND:BURST")
    args = parser.parse_args()
    limits = {}
    for spec in args.limit:
        path, rate = spec.split("=", 1)
        per_second, burst = rate.split(":")
        limits[path] = Limit(per_second=float(per_second), burst=int(burst))
    server = Standin(limits=limits)
    # Holding a million profiles makes every cyclic-GC pass walk them all; the process is
    # short-lived and creates no cycles worth collecting, so the collector is off.
    gc.disable()
    print(server.url, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


if __name__ == "__main__":
    main()
