"""Run every benchmark that leaves the engines running, one after another, in one run, and
keep each one's output in benchmarks/results/ (the README's performance table quotes them).

    python benchmarks/run_all.py

bench_sandbox.py (restarts every engine) and bench_soak.py (10 minutes) are run by hand.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ("bench_kernel.py", "bench_containers.py", "bench_libvirt.py", "bench_vsphere.py")


def main() -> int:
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    failed = []
    for script in SCRIPTS:
        print(f"== {script}", flush=True)
        started = time.monotonic()
        proc = subprocess.run([sys.executable, str(HERE / script)], capture_output=True,
                              text=True, check=False)
        (results / f"{Path(script).stem}.txt").write_text(proc.stdout + proc.stderr)
        print(proc.stdout, end="")
        if proc.returncode != 0:
            failed.append(script)
            print(proc.stderr[-2000:], file=sys.stderr)
        print(f"   ({time.monotonic() - started:.0f} s)\n", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
