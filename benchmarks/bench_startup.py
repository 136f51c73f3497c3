"""Whole-process time of a small `fairskin generate`, against the floor of importing torch.

    python benchmarks/bench_startup.py [--repeats 5]

A researcher's first command is often a handful of images, and then the process start-up (imports,
model loading) is most of the wait. Each run is a fresh process: `fairskin generate --fst 6
--diagnosis melanoma --n 8` with the default model into a new folder, and `fairskin --help`. The
reference, in the same run and interleaved with them, is `python -c "import torch"`: what any
torch program pays before its first line of work. Target on the 2-core CPU: the generate command
in ≤ 10 s. ``-X importtime`` of the generate command lists where the import time goes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def seconds(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def import_times(command: list[str], env: dict[str, str], top: int) -> list[tuple[float, str]]:
    """The ``top`` packages by cumulative import time (seconds) in one run of ``command``."""
    result = subprocess.run([sys.executable, "-X", "importtime", *command[1:]], env=env, cwd=REPO, capture_output=True, text=True)
    totals = []
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
            if cumulative.isdigit() and "." not in name.strip():
                totals.append((int(cumulative) / 1e6, name.strip()))
    return sorted(totals, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO), "FAIRSKIN_HOME": tempfile.mkdtemp(prefix="fairskin-startup-")}
    out = Path(tempfile.mkdtemp(prefix="fairskin-startup-out-"))
    fairskin = [sys.executable, "-m", "app.cli"]
    commands = {
        'python -c "import torch"': [sys.executable, "-c", "import torch"],
        "fairskin --help": [*fairskin, "--help"],
        "fairskin generate --fst 6 --diagnosis melanoma --n 8": None,
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for repeat in range(args.repeats):
        for name, command in commands.items():
            command = command or [
                *fairskin, "generate", "--fst", "6", "--diagnosis", "melanoma", "--n", "8", "--out", str(out / str(repeat))
            ]
            times[name].append(seconds(command, env))
    floor = statistics.median(times['python -c "import torch"'])
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; median of {args.repeats} fresh processes each")
    print(f"{'command':<55} {'median s':>9} {'min s':>7} {'× import torch':>15}")
    for name, values in times.items():
        print(f"{name:<55} {statistics.median(values):9.2f} {min(values):7.2f} {statistics.median(values) / floor:15.2f}")
    print("\nslowest imports of the generate command (cumulative s):")
    generate = [*fairskin, "generate", "--fst", "6", "--diagnosis", "melanoma", "--n", "8", "--out", str(out / "importtime")]
    for total, name in import_times(generate, env, top=8):
        print(f"  {total:6.2f}  {name}")


if __name__ == "__main__":
    main()
