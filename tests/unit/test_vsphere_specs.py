"""The vSphere driver's pure parts: guest OS names, labels in annotations, sizes, paging.

No engine: vcsim never pages a RetrievePropertiesEx answer, so the continuation loop is
checked here against a stand-in collector that does.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from jupyter_virtwork.drivers.vsphere.props import retrieve
from jupyter_virtwork.drivers.vsphere.specs import (
    annotation_with_labels,
    checked_sizes,
    govc_size,
    guest_id,
    labels_from_annotation,
    memory_mb,
)
from jupyter_virtwork.errors import InvalidInput
from jupyter_virtwork.sizes import GiB, MiB


@pytest.mark.parametrize(("name", "expected"), [
    ("ubuntu 18.04", "ubuntu64Guest"),
    ("Ubuntu 18.04 64-bit", "ubuntu64Guest"),
    ("Ubuntu 18.04 LTS (32-bit)", "ubuntuGuest"),
    ("windows server 2019", "windows2019srv_64Guest"),
    ("other linux", "otherLinux64Guest"),
    ("debian 12.5", "debian12_64Guest"),
    ("CentOS 7.9", "centos7_64Guest"),
    ("ubuntu64Guest", "ubuntu64Guest"),
    ("RHEL8_64GUEST", "rhel8_64Guest"),
])
def test_guest_names(name: str, expected: str) -> None:
    assert guest_id(name) == expected


def test_unknown_guest_offers_close_names() -> None:
    with pytest.raises(InvalidInput) as caught:
        guest_id("windoze server 2019")
    assert "did you mean 'windows server 2019'" in str(caught.value)


def test_no_32_bit_variant() -> None:
    with pytest.raises(InvalidInput, match="no 32-bit"):
        guest_id("windows server 2019 32-bit")


def test_labels_round_trip_and_keep_the_users_notes() -> None:
    labels = {"app.kubernetes.io/managed-by": "jupyter-virtwork", "virtwork.io/session": "s1"}
    text = annotation_with_labels(labels, "my notes\nsecond line")
    assert text.startswith("my notes\nsecond line\n")
    assert labels_from_annotation(text) == labels
    assert labels_from_annotation(annotation_with_labels({"a": "b"}, text)) == {"a": "b"}
    assert labels_from_annotation("jupyter-virtwork-labels: {broken") == {}
    assert labels_from_annotation(None) == {}


def test_sizes() -> None:
    assert memory_mb(4 * GiB) == 4096
    assert memory_mb(4 * GiB + 1) == 4100  # vSphere wants a multiple of 4 MB: round up
    assert checked_sizes("2", "4 GB", "100") == (2, 4 * GiB, 100 * GiB)
    assert checked_sizes(None, 512 * MiB, None) == (None, 512 * MiB, None)
    assert govc_size(100 * GiB) == "100GB" and govc_size(1536 * MiB) == "1536MB"
    for bad in ({"cpus": 0}, {"cpus": "many"}, {"memory": "lots"}, {"disk": "-1G"}):
        with pytest.raises(InvalidInput):
            checked_sizes(**{"cpus": None, "memory": None, "disk": None, **bad})


class PagingCollector:
    """Answers in pages of two, as vCenter does for large inventories."""

    def __init__(self, objects: list[str]) -> None:
        self.objects = objects
        self.calls: list[str] = []

    def _page(self, start: int) -> Any:
        end = start + 2
        token = str(end) if end < len(self.objects) else None
        return SimpleNamespace(objects=self.objects[start:end], token=token)

    def RetrievePropertiesEx(self, specs: list[Any], options: Any) -> Any:
        self.calls.append("RetrievePropertiesEx")
        return self._page(0)

    def ContinueRetrievePropertiesEx(self, token: str) -> Any:
        self.calls.append("ContinueRetrievePropertiesEx")
        return self._page(int(token))


def test_retrieve_follows_continuation_tokens() -> None:
    collector = PagingCollector(["vm-1", "vm-2", "vm-3", "vm-4", "vm-5"])
    assert retrieve(collector, spec=None) == ["vm-1", "vm-2", "vm-3", "vm-4", "vm-5"]
    assert collector.calls == ["RetrievePropertiesEx"] + ["ContinueRetrievePropertiesEx"] * 2
