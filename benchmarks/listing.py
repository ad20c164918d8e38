"""One engine's list, four ways in one run: the fastest raw SDK call (the anchor), the
driver, the magic a notebook user types, and the engine's CLI as a process.

Goals (issues 3 and 5): the driver and the magic <= 1.1x the raw call for the same data;
against the CLI <= 0.33x where the issue names that CLI (``docker ps``, ``kubectl get pods``).
Issue 18: the magic while a live table is open (answered from its watch's cache) below the
raw call; and the driver's list over SSH against the local one (no goal).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence

from figures import Figure, Goal, turns

from jupyter_virtwork.models import EventType
from jupyter_virtwork.watch import EventStream

RAW_GOAL = Goal("<=", 1.1, "ratio")
CLI_GOAL = Goal("<=", 0.33, "ratio")


def compare(engine: str, what: str, *, raw: tuple[str, Callable[[], object]],
            driver: Callable[[], object], magic: tuple[str, Callable[[], object]],
            cli: tuple[str, Sequence[str]], rounds: int, raw_goal: Goal | None = RAW_GOAL,
            cli_goal: Goal | None = CLI_GOAL,
            others: dict[str, tuple[str, Callable[[], object]]] | None = None,
            ) -> list[Figure]:
    """The list figures of one engine; the best of ``rounds`` runs taken in turns (the CLI,
    a process each time, gets a third of the rounds, at least 3): on this shared machine
    interference only adds time, and the best is what the code itself costs."""
    raw_name, magic_name = raw[0], magic[0]
    others = others or {}
    runs = {"raw": raw[1], "driver": driver, "magic": magic[1],
            **{key: call for key, (_, call) in others.items()}}
    times = {name: t.best * 1000 for name, t in turns(runs, rounds).items()}
    cli_name, argv = cli
    process = turns({"cli": lambda: subprocess.run(argv, capture_output=True, check=True)},
                    max(3, rounds // 3))["cli"].best * 1000
    prefix = f"list.{engine}"
    found = [
        Figure(f"{prefix}.driver_vs_raw", "list", f"{engine}: driver list ({what})",
               times["driver"], "ms", raw_name, times["raw"], raw_goal),
        Figure(f"{prefix}.magic_vs_raw", "list", f"{engine}: {magic_name}", times["magic"],
               "ms", raw_name, times["raw"], raw_goal),
        Figure(f"{prefix}.magic_vs_cli", "list", f"{engine}: {magic_name}", times["magic"],
               "ms", f"`{cli_name}` as a process", process, cli_goal),
    ]
    found += [Figure(f"{prefix}.{key}", "list", f"{engine}: {name}", times[key], "ms",
                     raw_name, times["raw"]) for key, (name, _) in others.items()]
    return found


CACHED_GOAL = Goal("<=", 1.0, "ratio")  # issue 18: below the raw call (a `<` read as `<=`)


def cached(engine: str, what: str, *, raw: tuple[str, Callable[[], object]],
           magic: tuple[str, Callable[[], object]], watch: Callable[[], EventStream],
           rounds: int) -> list[Figure]:
    """The magic's list while a watch of the same kind is synced on its connection (a live
    table open): answered from the watch's cache, against the same raw call, in turns."""
    stream = watch()
    try:
        while (event := stream.get(timeout=60)) is not None:
            if event.type is EventType.SYNCED:
                break
        else:
            raise RuntimeError(f"{engine}: the watch never synced")
        times = {name: t.best * 1000 for name, t in
                 turns({"raw": raw[1], "cached": magic[1]}, rounds).items()}
    finally:
        stream.close()
    return [Figure(f"list.{engine}.cached_vs_raw", "list",
                   f"{engine}: {magic[0]}, a live table open ({what})", times["cached"], "ms",
                   raw[0], times["raw"], CACHED_GOAL)]


def remote(engine: str, what: str, *, local: tuple[str, Callable[[], object]],
           over_ssh: tuple[str, Callable[[], object]], rounds: int) -> list[Figure]:
    """The same driver list over SSH (the sandbox's sshd on this machine) against the local
    socket: what the SSH transport adds. No goal: the issue asks for the figure."""
    times = {name: t.best * 1000 for name, t in
             turns({"local": local[1], "ssh": over_ssh[1]}, rounds).items()}
    return [Figure(f"list.{engine}.ssh_vs_local", "list", f"{engine}: {over_ssh[0]} ({what})",
                   times["ssh"], "ms", local[0], times["local"])]
