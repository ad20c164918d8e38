"""Human sizes ("4G", "4 GB", "100GiB", "512M") parsed strictly into bytes.

Units are binary, as QEMU, libvirt and vSphere count memory and disks: K, M, G and T mean
KiB, MiB, GiB and TiB whether written ``G``, ``GB`` or ``GiB``. A bare number takes the
caller's default unit (``--memory 4`` is 4 GiB, like the source document's ``-m 4``).
"""

from __future__ import annotations

import re

from .errors import InvalidInput

_UNITS = {"": 0, "b": 0, "k": 1, "m": 2, "g": 3, "t": 4}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)

KiB = 1024
MiB = 1024**2
GiB = 1024**3


def parse_size(value: str | int | float, *, default_unit: str = "G", what: str = "size") -> int:
    """Bytes in ``value``; ``default_unit`` applies to a bare number."""
    text = str(value).strip()
    match = _SIZE.match(text)
    if match is None:
        raise InvalidInput(f"{what} {text!r} is not a size",
                           hint="write a number with a unit, such as 512M, 4G or 100GiB")
    number, unit, suffix = match.groups()
    if not unit and not suffix:
        unit = default_unit
    size = float(number) * 1024 ** _UNITS[unit.lower()]
    if size <= 0:
        raise InvalidInput(f"{what} {text!r} must be larger than zero")
    return int(size)


def format_size(size: int) -> str:
    """The shortest exact-enough binary rendering: 4294967296 -> '4 GiB'."""
    for unit, power in (("TiB", 4), ("GiB", 3), ("MiB", 2), ("KiB", 1)):
        scaled = size / 1024**power
        if scaled >= 1:
            return f"{scaled:g} {unit}" if scaled == int(scaled) else f"{scaled:.1f} {unit}"
    return f"{size} B"
