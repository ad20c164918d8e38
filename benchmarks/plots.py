"""PNG plots of one run's figures (matplotlib, Agg): what run_all.py saves beside the table.

- lists.png: per engine, the raw SDK call, the driver, the magic and the CLI process (log);
- live.png: from the docker start call to the raw event, the driver Event and the table row
  (linear);
  bytes of one changed row against the whole 1000-row table (log);
- scale.png: 1000 vSphere VMs (raw, driver, naive loop) and 1000 libvirt domains (log);
- start.png: container against VM start (log).
A plot whose figures are missing from the run is left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from figures import Figure, number

COLOURS = ("#4c72b0", "#55a868", "#c44e52", "#8172b2", "#937860")


def save_plots(found: Sequence[Figure], folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    by_key = {f.key: f for f in found}
    saved = []
    for name, draw in (("lists", _lists), ("live", _live), ("scale", _scale),
                       ("start", _start)):
        path = folder / f"{name}.png"
        if draw(by_key, path):
            saved.append(path)
    return saved


def _bars(axes: Any, labels: Sequence[str], values: Sequence[float], unit: str,
          title: str, *, log: bool = True) -> None:
    """Horizontal bars (on a log scale unless ``log`` is false), each with its value."""
    positions = range(len(values))
    axes.barh(positions, values, color=[COLOURS[i % len(COLOURS)] for i in positions])
    axes.set_yticks(list(positions), labels)
    axes.invert_yaxis()
    if log:
        axes.set_xscale("log")
        axes.set_xlim(min(values) / 2, max(values) * 6)
    else:
        axes.set_xlim(0, max(values) * 1.25)
    axes.set_xlabel(unit)
    axes.set_title(title, fontsize=10)
    for position, value in zip(positions, values, strict=True):
        at = value * 1.1 if log else value + max(values) * 0.02
        axes.text(at, position, number(value, unit), va="center", fontsize=8)


def _save(figure: Any, path: Path) -> bool:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(figure)
    return True


def _lists(by_key: dict[str, Figure], path: Path) -> bool:
    import matplotlib.pyplot as plt

    engines = [e for e in ("docker", "kubernetes", "libvirt")
               if all(f"list.{e}.{k}" in by_key for k in ("driver_vs_raw", "magic_vs_cli"))]
    if not engines:
        return False
    figure, panels = plt.subplots(len(engines), 1, figsize=(7, 1.9 * len(engines)),
                                  squeeze=False)
    for axes, engine in zip(panels[:, 0], engines, strict=True):
        driver, magic = by_key[f"list.{engine}.driver_vs_raw"], by_key[
            f"list.{engine}.magic_vs_cli"]
        assert driver.anchor_value is not None and magic.anchor_value is not None
        _bars(axes, ["raw SDK call", "driver", magic.name.split(": ", 1)[1], "CLI process"],
              [driver.anchor_value, driver.value, magic.value, magic.anchor_value], "ms",
              driver.name)
    return _save(figure, path)


def _live(by_key: dict[str, Figure], path: Path) -> bool:
    import matplotlib.pyplot as plt

    driver, table = by_key.get("events.docker.driver"), by_key.get("events.docker.table")
    row = by_key.get("live.bytes_per_row")
    if driver is None or table is None or row is None:
        return False
    assert driver.anchor_value is not None and row.anchor_value is not None
    figure, (events, traffic) = plt.subplots(2, 1, figsize=(7, 3.6))
    _bars(events, ["raw SDK event stream", "driver Event", "StatusTable row"],
          [driver.anchor_value, driver.value, table.value], "ms",
          "from the docker start call to ...", log=False)
    _bars(traffic, ["one changed row", "the whole table"], [row.value, row.anchor_value],
          "B", row.name)
    return _save(figure, path)


def _scale(by_key: dict[str, Figure], path: Path) -> bool:
    import matplotlib.pyplot as plt

    issue, same = by_key.get("scale.vsphere.list_vs_raw"), by_key.get(
        "scale.vsphere.list_vs_same")
    naive, domains = by_key.get("scale.vsphere.naive_vs_list"), by_key.get(
        "scale.libvirt.list")
    if issue is None or same is None or naive is None or domains is None:
        return False
    assert issue.anchor_value is not None and same.anchor_value is not None
    assert domains.anchor_value is not None
    figure, (vsphere, libvirt) = plt.subplots(2, 1, figsize=(7, 3.8),
                                              height_ratios=(4, 2))
    raw = [f.anchor.replace("one raw RetrievePropertiesEx", "raw") for f in (issue, same)]
    _bars(vsphere, [*raw, "driver list", "naive per-VM loop"],
          [issue.anchor_value, same.anchor_value, issue.value, naive.value], "ms", issue.name)
    _bars(libvirt, ["raw listAllDomains + state", "driver list"],
          [domains.anchor_value, domains.value], "ms", domains.name)
    return _save(figure, path)


def _start(by_key: dict[str, Figure], path: Path) -> bool:
    import matplotlib.pyplot as plt

    keys = ("start.container.running", "start.container.marker", "start.vcsim.running",
            "start.qemu.marker")
    if not all(k in by_key for k in keys):
        return False
    figure, axes = plt.subplots(figsize=(7, 2.2))
    _bars(axes, [by_key[k].name for k in keys], [by_key[k].value for k in keys], "s",
          "container start against VM start")
    return _save(figure, path)
