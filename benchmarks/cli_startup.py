"""How fast `chotdon` starts: modules imported and wall time of a command, median of runs.

    python benchmarks/cli_startup.py [--repeat 7]

`chotdon parse --text` loads the parser only (the sub-command table imports a command's modules
when it runs); `chotdon worker --help` loads Faust's CLI flags without Faust. Each run is a new
interpreter, as a shell starts it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "parse --text": ["parse", "--catalog", "kim-an", "--text", "chốt 2 hộp ổi"],
    "worker --help": ["worker", "--help"],
    "--help": ["--help"],
}


def run(args: list[str]) -> tuple[float, int]:
    """Seconds the command took, and how many modules its interpreter imported."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "chotdon", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    took = time.perf_counter() - started
    return took, sum(1 for line in done.stderr.splitlines() if line.startswith("import time:")) - 1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=7)
    repeat = p.parse_args().repeat
    for name, args in COMMANDS.items():
        runs = [run(args) for _ in range(repeat)]
        seconds = statistics.median(t for t, _ in runs)
        print(
            f"chotdon {name:14} {runs[0][1]:4d} modules {seconds * 1000:6.0f} ms"
            f" (median of {repeat})"
        )


if __name__ == "__main__":
    main()
