"""The contract every sandbox engine follows, and the status record ``status`` prints."""

from __future__ import annotations

import abc
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class EngineStatus:
    """What ``sandbox status`` says about one engine."""

    name: str
    ready: bool
    endpoint: str = ""
    version: str = ""
    detail: str = ""  # why not ready, or what it is doing ("building from source, 6 of 13 min")
    extra: dict[str, Any] = field(default_factory=dict)  # connection facts, never a secret

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Engine(abc.ABC):
    """One real engine: installed from Debian/PyPI, started as a daemon, stopped by pid file.

    ``up`` calls ``install`` then ``start``; both are idempotent and print progress through
    ``report.say``. ``start`` returns only when the engine answers. ``stop`` stops only what
    ``start`` started. ``status`` is cheap (no install, no start) and never raises.
    """

    name: ClassVar[str]
    quick: ClassVar[bool] = True  # False: a long build; the main job does not wait for it
    needs: ClassVar[tuple[str, ...]] = ()  # engines that must be up first

    @abc.abstractmethod
    def install(self) -> None: ...

    @abc.abstractmethod
    def start(self) -> None: ...

    @abc.abstractmethod
    def stop(self) -> None: ...

    @abc.abstractmethod
    def status(self) -> EngineStatus: ...
