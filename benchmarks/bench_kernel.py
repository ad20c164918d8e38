"""What a notebook user waits for: %load_ext, and the first call of each engine after it.

    python benchmarks/bench_kernel.py [--rounds 5] [--json PATH]

Targets: %load_ext over bare IPython <= 0.15 s (issue: magics and widgets); the first magic
of each engine in a fresh kernel, its SDK's import included, <= 0.5 s (issue 18): %docker
ps -a, %k8s get pods, %vm ls on libvirt and on vSphere (the sandbox's vcsim). The SDKs are
warmed in the background after %load_ext, while the user types the next cell (2 s here).
Each sample is a fresh process, one engine each.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import subprocess
import sys
from pathlib import Path

from figures import Figure, Goal, median, run_script

PROBE = """
import json, sys, time
from IPython.testing.globalipapp import start_ipython
started = time.perf_counter(); ip = start_ipython(); bare = time.perf_counter() - started
started = time.perf_counter(); ip.run_line_magic("load_ext", "jupyter_virtwork")
load = time.perf_counter() - started
time.sleep(2)  # the user types the next cell
magic, _, line = sys.argv[1].partition(" ")
started = time.perf_counter(); ip.run_line_magic(magic, line)
first = time.perf_counter() - started
print(json.dumps({"bare": bare, "load_ext": load, "first": first}))
"""
FIRST_CALLS = {  # engine -> the magic line typed first
    "docker": "docker ps -a",
    "kubernetes": "k8s get pods",
    "libvirt": "vm ls --on libvirt",
    "vsphere": "vm ls --on vsphere",
}


PACKAGE = Path(__file__).parents[1] / "jupyter_virtwork"
# A user's kernel reads bytecode that pip compiled at install time; a shell that sets
# PYTHONDONTWRITEBYTECODE would time compiling every module from source instead.
AS_INSTALLED = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def probe(line: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", PROBE, line], capture_output=True, text=True,
                         check=True, timeout=120, env=AS_INSTALLED).stdout
    found: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return found


def measure(args: argparse.Namespace) -> list[Figure]:
    compileall.compile_dir(PACKAGE, quiet=1)  # as pip does when it installs the package
    runs: dict[str, list[dict[str, float]]] = {engine: [] for engine in FIRST_CALLS}
    for _ in range(args.rounds):  # in turns: a slow moment of the machine hits every engine
        for engine, line in FIRST_CALLS.items():
            runs[engine].append(probe(line))
    every = [r for samples in runs.values() for r in samples]
    ms = {key: median([r[key] for r in every]) * 1000 for key in ("bare", "load_ext")}
    found = [Figure("kernel.load_ext", "kernel", "%load_ext jupyter_virtwork", ms["load_ext"],
                    "ms", "bare IPython start", ms["bare"], Goal("<=", 150))]
    for engine, line in FIRST_CALLS.items():
        first = median([r["first"] for r in runs[engine]]) * 1000
        found.append(Figure(f"kernel.first_{engine}", "kernel",
                            f"first %{line} in a fresh kernel", first, "ms",
                            goal=Goal("<=", 500)))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    run_script(parser, measure)


if __name__ == "__main__":
    main()
