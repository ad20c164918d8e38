"""``virtwork-sandbox up | down | status``: bring the real local engines up and down.

``up`` installs and starts engines in the order of ``engines.ENGINES``. Slow engines
(``Engine.quick = False``: the Kubernetes build) install in a thread beside the quick ones,
then start once the quick ones they need are up. With ``--background-slow`` the slow engines
are handed to a detached ``up`` process instead, so JupyterLab can open without waiting;
``status`` shows their progress.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Sequence

from . import apt, engines, process
from .engine import Engine, EngineStatus
from .report import say
from .system import SandboxError

BACKGROUND_UP = "sandbox-up-slow"


def _selected(names: Sequence[str]) -> list[str]:
    unknown = [n for n in names if n not in engines.ENGINES]
    if unknown:
        raise SystemExit(f"unknown engine {', '.join(unknown)}: choose from "
                         f"{', '.join(engines.ENGINES)}")
    return [n for n in engines.ENGINES if not names or n in names]


def _install(engine: Engine, failures: dict[str, str]) -> None:
    try:
        engine.install()
    except (SandboxError, OSError) as exc:
        failures[engine.name] = str(exc)


def _start(engine: Engine, failures: dict[str, str]) -> None:
    blocked = [n for n in engine.needs if n in failures]
    if blocked:
        failures[engine.name] = f"needs {', '.join(blocked)}, which did not start"
    elif engine.name not in failures:
        try:
            engine.start()
            say(engine.name, "ready")
        except (SandboxError, OSError) as exc:
            failures[engine.name] = str(exc)


def up(names: Sequence[str], background_slow: bool = False) -> int:
    chosen = [engines.load(n) for n in _selected(names)]
    # `needs` of a chosen engine are brought up too, even when not named.
    for engine in list(chosen):
        for need in engine.needs:
            if need not in (e.name for e in chosen):
                chosen.insert(0, engines.load(need))
    chosen.sort(key=lambda e: list(engines.ENGINES).index(e.name))
    quick = [e for e in chosen if e.quick]
    slow = [e for e in chosen if not e.quick]
    failures: dict[str, str] = {}
    if background_slow and slow:
        cmd = [sys.executable, "-m", "jupyter_virtwork.sandbox", "up", *(e.name for e in slow)]
        process.start_daemon(BACKGROUND_UP, cmd)
        say("sandbox", f"{', '.join(e.name for e in slow)} continue in the background "
                       "(`virtwork-sandbox status` shows progress)")
        slow = []
    builders = [threading.Thread(target=_install, args=(e, failures), daemon=True)
                for e in slow]
    for thread in builders:
        thread.start()
    for engine in quick:
        _install(engine, failures)
        _start(engine, failures)
    for thread in builders:
        thread.join()
    for engine in slow:
        _start(engine, failures)
    for name, why in failures.items():
        print(f"{name}: NOT STARTED: {why}", file=sys.stderr)
    return 1 if failures else 0


def down(names: Sequence[str]) -> int:
    if not names:
        process.stop_daemon(BACKGROUND_UP)
    for name in reversed(_selected(names)):
        engine = engines.load(name)
        try:
            engine.stop()
            say(name, "stopped")
        except (SandboxError, OSError) as exc:
            print(f"{name}: could not stop: {exc}", file=sys.stderr)
            return 1
    return 0


def statuses(names: Sequence[str] = ()) -> list[EngineStatus]:
    found = []
    for name in _selected(names):
        try:
            found.append(engines.load(name).status())
        except (ImportError, AttributeError) as exc:  # an engine missing from this checkout
            found.append(EngineStatus(name, False, detail=f"not available: {exc}"))
    return found


def status(names: Sequence[str], as_json: bool) -> int:
    found = statuses(names)
    if as_json:
        print(json.dumps([s.to_json() for s in found], indent=2))
        return 0
    for s in found:
        mark = "ready" if s.ready else "not ready"
        facts = ", ".join(x for x in (s.endpoint, s.version, s.detail) if x)
        print(f"{s.name:<11} {mark:<10} {facts}")
    return 0


def packages(names: Sequence[str]) -> int:
    """Install Debian packages through the sandbox's one installer (``make``'s own needs)."""
    try:
        apt.install(names, engine="packages")
    except SandboxError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="virtwork-sandbox", description=__doc__.split("\n")[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    p_up = verbs.add_parser("up", help="install and start engines (all by default)")
    p_up.add_argument("engines", nargs="*")
    p_up.add_argument("--background-slow", action="store_true",
                      help="hand slow builds to a background process instead of waiting")
    p_down = verbs.add_parser("down", help="stop what `up` started")
    p_down.add_argument("engines", nargs="*")
    p_status = verbs.add_parser("status", help="show each engine's state")
    p_status.add_argument("engines", nargs="*")
    p_status.add_argument("--json", action="store_true")
    p_packages = verbs.add_parser(
        "packages", help="install Debian packages through the sandbox's installer (one apt "
                         "at a time, waiting for apt's locks)")
    p_packages.add_argument("names", nargs="+")
    args = parser.parse_args(argv)
    if args.verb == "packages":
        return packages(args.names)
    if args.verb == "up":
        return up(args.engines, args.background_slow)
    if args.verb == "down":
        return down(args.engines)
    return status(args.engines, args.json)


if __name__ == "__main__":
    sys.exit(main())
