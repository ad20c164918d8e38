"""Sandbox set-up times: the warm restart of every engine, and optionally a cold set-up.

    python benchmarks/bench_sandbox.py            # warm: down, then up, per engine
    python benchmarks/bench_sandbox.py --cold     # cold: fresh cache/state dirs, so every
                                                  # build (Kubernetes ~5-13 min) runs again

Goal (issue: foundation): warm restart of all engines <= 60 s. This stops and restarts the
engines of this machine: don't run it while tests use them.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from jupyter_virtwork.sandbox import engines

GOAL_WARM_SECONDS = 60.0


def _timed(label: str, action: object) -> float:
    started = time.monotonic()
    action()  # type: ignore[operator]
    elapsed = time.monotonic() - started
    print(f"  {label:<28} {elapsed:7.2f} s", flush=True)
    return elapsed


def bring_up() -> float:
    """Install+start every engine in order, one by one, as `up` would; total seconds."""
    total = 0.0
    for name in engines.ENGINES:
        engine = engines.load(name)
        total += _timed(f"{name} install", engine.install)
        total += _timed(f"{name} start", engine.start)
    return total


def take_down() -> float:
    total = 0.0
    for name in reversed(engines.ENGINES):
        total += _timed(f"{name} stop", engines.load(name).stop)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cold", action="store_true",
                        help="use empty cache and state dirs (rebuilds everything)")
    args = parser.parse_args()
    print("down:")
    down = take_down()
    if args.cold:
        scratch = tempfile.mkdtemp(prefix="virtwork-cold-")
        for env, sub in (("VIRTWORK_CACHE_DIR", "cache"), ("VIRTWORK_STATE_DIR", "state")):
            os.environ[env] = os.path.join(scratch, sub)
    print("up:")
    up = bring_up()
    kind = "cold set-up" if args.cold else "warm restart"
    print(f"\n{'down':<14}{down:8.1f} s")
    print(f"{kind:<14}{up:8.1f} s   (goal for a warm restart: <= {GOAL_WARM_SECONDS:.0f} s,"
          f" ratio {up / GOAL_WARM_SECONDS:.2f})")
    if args.cold:
        print("note: the cold run leaves engines running from the scratch dirs; run "
              "`python -m jupyter_virtwork.sandbox down` then `up` to return to the defaults")


if __name__ == "__main__":
    main()
