"""What a notebook user waits for: %load_ext, and the first Kubernetes call after it.

    python benchmarks/bench_kernel.py [--rounds 5] [--json PATH]

Targets (issue: magics and widgets): %load_ext over bare IPython <= 0.15 s; the first
Kubernetes call in a fresh kernel <= 0.5 s (the client is warmed in the background after
%load_ext, while the user types the next cell: 2 s here). Each round is a fresh process.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from figures import Figure, Goal, median, run_script

PROBE = """
import json, time
from IPython.testing.globalipapp import start_ipython
started = time.perf_counter(); ip = start_ipython(); bare = time.perf_counter() - started
started = time.perf_counter(); ip.run_line_magic("load_ext", "jupyter_virtwork")
load = time.perf_counter() - started
time.sleep(2)  # the user types the next cell
started = time.perf_counter(); ip.run_line_magic("k8s", "get pods")
first = time.perf_counter() - started
print(json.dumps({"bare": bare, "load_ext": load, "first_k8s": first}))
"""


def measure(args: argparse.Namespace) -> list[Figure]:
    runs = []
    for _ in range(args.rounds):
        out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                             check=True, timeout=120).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    ms = {key: median([r[key] for r in runs]) * 1000 for key in runs[0]}
    return [
        Figure("kernel.load_ext", "kernel", "%load_ext jupyter_virtwork", ms["load_ext"], "ms",
               "bare IPython start", ms["bare"], Goal("<=", 150)),
        Figure("kernel.first_k8s", "kernel", "first %k8s get pods after %load_ext",
               ms["first_k8s"], "ms", goal=Goal("<=", 500)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    run_script(parser, measure)


if __name__ == "__main__":
    main()
