"""Run every benchmark that leaves the engines running, one after another, and print one
table of the figures measured in this run, each against its anchor and goal.

    python benchmarks/run_all.py [--idle-seconds 60] [--only bench_live ...]
    python benchmarks/run_all.py --report-only     # table and plots from the last JSON

Writes into benchmarks/results/ (not kept in git): each script's output (``NAME.txt``) and
figures (``NAME.json``), the combined table as ``latest.md`` and ``latest.json``, and PNG
plots (``plots.py``). The README's performance section quotes ``latest.md``.

A script that fails is run once more after the engines are ready again (another session's
fault tests restart them now and then). bench_sandbox.py (restarts every engine) and
bench_soak.py (10 minutes) are run by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timezone
from pathlib import Path

from figures import Figure, markdown_table, read_json, text_table, write_json

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SCRIPTS = ("bench_kernel", "bench_containers", "bench_libvirt", "bench_vsphere", "bench_live",
           "bench_start")
GROUPS = ("kernel", "list", "events", "live table", "scale", "start")
READY_TIMEOUT = 600.0


def engines_ready() -> bool:
    proc = subprocess.run([sys.executable, "-m", "jupyter_virtwork.sandbox", "status", "--json"],
                          capture_output=True, text=True, check=False, timeout=120,
                          cwd=HERE.parent)
    try:
        engines = json.loads(proc.stdout)
    except ValueError:
        return False
    return bool(engines) and all(engine.get("ready") for engine in engines)


def wait_for_engines() -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while not engines_ready():
        if time.monotonic() > deadline:
            raise SystemExit("the sandbox's engines are not ready: "
                             "python -m jupyter_virtwork.sandbox up")
        print("   waiting for the engines to be ready", flush=True)
        time.sleep(30)


def run(script: str, extra: list[str]) -> bool:
    """One script, its output shown as it comes and kept in results/SCRIPT.txt."""
    command = [sys.executable, str(HERE / f"{script}.py"), "--json",
               str(RESULTS / f"{script}.json"), *extra]
    (RESULTS / f"{script}.json").unlink(missing_ok=True)
    with (RESULTS / f"{script}.txt").open("w") as log, subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            cwd=HERE.parent) as proc:
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                print(f"   {line}", end="", flush=True)
                log.write(line)
        except KeyboardInterrupt:
            proc.wait()  # the script got the Ctrl-C too: let it remove what it made
            raise
    return proc.returncode == 0


def measure(scripts: list[str], extra: dict[str, list[str]]) -> list[str]:
    failed = []
    for script in scripts:
        for attempt in (1, 2):
            print(f"== {script}" + (" (again)" if attempt == 2 else ""), flush=True)
            started = time.monotonic()
            wait_for_engines()
            ok = run(script, extra.get(script, []))
            print(f"   ({time.monotonic() - started:.0f} s)\n", flush=True)
            if ok:
                break
        else:
            failed.append(script)
    return failed


def collect(scripts: list[str]) -> list[Figure]:
    found = [f for s in scripts if (RESULTS / f"{s}.json").exists()
             for f in read_json(RESULTS / f"{s}.json")]
    return sorted(found, key=lambda f: GROUPS.index(f.group) if f.group in GROUPS else 99)


def header(seconds: float | None) -> str:
    """When and where; for --report-only, when the newest figures were written."""
    written = max((RESULTS / f"{s}.json").stat().st_mtime for s in SCRIPTS
                  if (RESULTS / f"{s}.json").exists()) if seconds is None else time.time()
    when = datetime.fromtimestamp(written, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    took = f", the run took {seconds / 60:.1f} min" if seconds else ""
    return textwrap.fill(
        f"Measured {when} on {os.cpu_count()} cores ({platform.machine()}, Python "
        f"{platform.python_version()}){took}. List and scale times are the best of their "
        "rounds, taken in turns (on this shared machine interference only adds time); "
        "kernel, event and start times are medians. Ratio: value / anchor.", 92)


def report(found: list[Figure], seconds: float | None) -> None:
    from plots import save_plots

    print(text_table(found))
    summary = header(seconds)
    (RESULTS / "latest.md").write_text(
        f"{summary}\n\n{markdown_table(found)}\n\nRerun: `python benchmarks/run_all.py`\n")
    write_json(RESULTS / "latest.json", found, summary=summary)
    saved = save_plots(found, RESULTS)
    judged = [f for f in found if f.met is not None]
    print(f"\n{sum(bool(f.met) for f in judged)} of {len(judged)} goals met; "
          f"{RESULTS / 'latest.md'}, plots: {', '.join(p.name for p in saved)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=SCRIPTS, metavar="SCRIPT",
                        help=f"run only these ({', '.join(SCRIPTS)})")
    parser.add_argument("--idle-seconds", type=float, default=60.0,
                        help="how long bench_live leaves its live table idle")
    parser.add_argument("--report-only", action="store_true",
                        help="measure nothing: the table and plots from the last JSON")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    scripts = list(args.only or SCRIPTS)
    started = time.monotonic()
    failed: list[str] = []
    if not args.report_only:
        failed = measure(scripts, {"bench_live": ["--idle-seconds", str(args.idle_seconds)]})
    report(collect(list(SCRIPTS) if args.report_only else scripts),
           None if args.report_only else time.monotonic() - started)
    if failed:
        print(f"failed: {', '.join(failed)} (see results/NAME.txt)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
