"""One engine's list, four ways in one run: the fastest raw SDK call (the anchor), the
driver, the magic a notebook user types, and the engine's CLI as a process.

Goals (issues 3 and 5): the driver and the magic <= 1.1x the raw call for the same data;
against the CLI <= 0.33x where the issue names that CLI (``docker ps``, ``kubectl get pods``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence

from figures import Figure, Goal, turns

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
