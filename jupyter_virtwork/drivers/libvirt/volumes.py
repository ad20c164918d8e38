"""Storage for a VM's disk: the thin qcow2 volume the toolkit creates in a pool (over an
image as its backing file, if given), finds again from the domain's ``<metadata>`` and
deletes with the domain; and the size of each disk of a domain.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from ...errors import InvalidInput, NotFound, OperationFailed
from ...models import VMSpec
from .definition import DiskSource, Owner, Volume
from .sdk import codes, import_libvirt

DEFAULT_POOL = "virtwork"  # the sandbox's dir pool for qcow2 volumes
TEST_POOL = "default-pool"  # the pool libvirt's test driver comes with


def active_pool(conn: Any, name: str, *, uri: str) -> Any:
    """The storage pool ``name``, refused unless it exists and is active."""
    libvirt = import_libvirt()
    try:
        pool = conn.storagePoolLookupByName(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_POOL:
            raise
        raise NotFound(f"storage pool {name!r} does not exist", connection=uri,
                       hint="python -m jupyter_virtwork.sandbox up libvirt creates "
                            f"'{DEFAULT_POOL}', or pass pool=NAME") from exc
    if not pool.isActive():
        raise OperationFailed(f"storage pool {name!r} is not active",
                              connection=uri, hint=f"virsh pool-start {name}")
    return pool


def pool_path(pool: Any) -> str:
    """The directory of a pool's volumes (its name in brackets for a pool without one)."""
    path = ET.fromstring(pool.XMLDesc(0)).findtext("target/path")
    return path or f"({pool.name()})"


def create(conn: Any, volume: Volume, spec: VMSpec, *, uri: str) -> str:
    """A thin qcow2 volume (over ``spec.image`` as its backing file, if given); its path."""
    from xml.sax.saxutils import escape  # not at the top: it imports urllib.request, ~40 ms

    pool = active_pool(conn, volume.pool, uri=uri)
    capacity = f"<capacity unit='bytes'>{spec.disk}</capacity>" if spec.disk else ""
    backing = ""
    if spec.image is not None:
        image_format = "qcow2" if spec.image.suffix in (".qcow2", ".qcow") else "raw"
        backing = (f"<backingStore><path>{escape(str(spec.image))}</path>"
                   f"<format type='{image_format}'/></backingStore>")
    created = pool.createXML(
        f"<volume><name>{volume.name}</name>{capacity}"
        f"<target><format type='qcow2'/></target>{backing}</volume>", 0)
    return str(created.path())


def delete(conn: Any, volume: Volume) -> None:
    """Delete ``volume``; one already gone (or its pool) is no error."""
    libvirt = import_libvirt()
    try:
        pool = conn.storagePoolLookupByName(volume.pool)
        pool.storageVolLookupByName(volume.name).delete(0)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() not in codes(libvirt, "NO_STORAGE_VOL", "NO_STORAGE_POOL"):
            raise


def owned(conn: Any, owner: Owner, name: str, *, uri: str) -> Any:
    """The volume the toolkit created for VM ``name`` (its first), as libvirt's object."""
    if not owner.volumes:
        raise InvalidInput(f"VM {name!r} has no disk created by the toolkit",
                           connection=uri, hint="resize its disks with virsh")
    volume = owner.volumes[0]
    return conn.storagePoolLookupByName(volume.pool).storageVolLookupByName(volume.name)


def disk_size(conn: Any, dom: Any, source: DiskSource) -> int:
    """A disk's size in bytes: its storage volume's capacity, else the size libvirt reads
    from its image (a disk outside every pool)."""
    libvirt = import_libvirt()
    if source.path is None:
        volume = conn.storagePoolLookupByName(source.pool).storageVolLookupByName(
            source.volume)
        return int(volume.info()[1])
    try:
        return int(conn.storageVolLookupByPath(source.path).info()[1])
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_VOL:
            raise
    return int(dom.blockInfo(source.path)[0])
