"""Sizes, names and VM specs: impossible input is refused before any engine is touched."""

import pytest

from jupyter_virtwork.errors import InvalidInput
from jupyter_virtwork.models import ContainerSpec, ImageSpec, VMSpec
from jupyter_virtwork.sizes import GiB, MiB, format_size, parse_size


@pytest.mark.parametrize(("text", "size"), [
    ("4G", 4 * GiB), ("4 GB", 4 * GiB), ("4GiB", 4 * GiB), ("512M", 512 * MiB),
    ("100GiB", 100 * GiB), ("1.5G", int(1.5 * GiB)), ("4", 4 * GiB), (2, 2 * GiB),
])
def test_sizes_are_binary(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "-5G", "0", "4 XB", "", "4GGB"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_size(text)


def test_format_size() -> None:
    assert format_size(4 * GiB) == "4 GiB"
    assert format_size(1536 * MiB) == "1.5 GiB"


def test_the_documents_vm_parses() -> None:
    spec = VMSpec.parse("my-vmware-vm", cpus=2, memory="4", disk="100")
    assert (spec.cpus, spec.memory, spec.disk) == (2, 4 * GiB, 100 * GiB)


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"cpus": 0}, "0 CPUs"), ({"cpus": 10000}, "10000 CPUs"), ({"cpus": "two"}, "two"),
    ({"memory": "lots"}, "lots"), ({"memory": "1M"}, "memory"), ({"disk": "-5G"}, "disk"),
])
def test_impossible_vms(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        VMSpec.parse("vm1", **kwargs)  # type: ignore[arg-type]
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", ["x; rm -rf /", "$(reboot)", "a b", "-flag", "`id`", ""])
def test_names_with_shell_metacharacters(name: str) -> None:
    with pytest.raises(InvalidInput):
        VMSpec(name)
    with pytest.raises(InvalidInput):
        ContainerSpec("localbase/busybox:1.35", name=name)


def test_image_names_must_be_lowercase() -> None:
    with pytest.raises(InvalidInput) as caught:
        ImageSpec("My-Image", "FROM scratch")
    assert "lowercase" in str(caught.value)
    assert ImageSpec("127.0.0.1:5000/team/my-image:1.0", "FROM scratch").tag


def test_a_container_memory_limit_docker_would_refuse_is_refused_here() -> None:
    with pytest.raises(InvalidInput) as caught:
        ContainerSpec("localbase/busybox:1.35", memory=1024 * 1024)
    assert "too small" in str(caught.value) and "6 MiB" in str(caught.value)
