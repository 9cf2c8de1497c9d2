"""``python -m rollgate.demo serve --port P --version V [--faults FILE] [--host H]``."""

from __future__ import annotations

import argparse
import sys

from rollgate.demo.app import run


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the demo service."""
    parser = argparse.ArgumentParser(prog="python -m rollgate.demo")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run one version of the demo service")
    serve.add_argument("--port", type=int, required=True, help="port to listen on (0 = any)")
    serve.add_argument("--version", required=True, help="version this process reports")
    serve.add_argument("--faults", help="faults JSON file (default: $ROLLGATE_DEMO_FAULTS)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    args = parser.parse_args(argv)
    return run(host=args.host, port=args.port, version=args.version, faults=args.faults)


if __name__ == "__main__":
    sys.exit(main())
