"""libvirt domains as our records: their states in our words, their ``<metadata>`` read as
an ``Owner``, and finding them (all with their stats, or one by name or UUID).

A record's labels come from the domain's metadata, read for every record: a list record
without them would differ from the same VM's record in a watch event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ...labels import XML_NAMESPACE
from ...models import Kind, Resource, State
from . import definition
from .definition import Owner
from .sdk import codes, import_libvirt

# virDomainState -> State (literal values: the SDK is not imported at module import).
STATE_MAP: dict[int, State] = {
    0: State.UNKNOWN,  # VIR_DOMAIN_NOSTATE
    1: State.RUNNING,  # VIR_DOMAIN_RUNNING
    2: State.RUNNING,  # VIR_DOMAIN_BLOCKED: running, waiting on a resource
    3: State.PAUSED,  # VIR_DOMAIN_PAUSED
    4: State.RUNNING,  # VIR_DOMAIN_SHUTDOWN: still running while it shuts down
    5: State.STOPPED,  # VIR_DOMAIN_SHUTOFF
    6: State.FAILED,  # VIR_DOMAIN_CRASHED
    7: State.SUSPENDED,  # VIR_DOMAIN_PMSUSPENDED
}
# virsh's words for those states (`virsh domstate`).
VIRSH_STATES: dict[str, State] = {
    "running": State.RUNNING, "idle": State.RUNNING, "paused": State.PAUSED,
    "in shutdown": State.RUNNING, "shut off": State.STOPPED, "crashed": State.FAILED,
    "pmsuspended": State.SUSPENDED,
}
PAUSED = 3
SHUTOFF = 5
SHUTOFF_REASONS: dict[int, State] = {5: State.SUSPENDED, 6: State.FAILED}  # SAVED, FAILED

_UUID = re.compile(r"^[0-9a-fA-F]{8}-?(?:[0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")


def state_of(state: int, reason: int) -> State:
    if state == SHUTOFF and reason in SHUTOFF_REASONS:
        return SHUTOFF_REASONS[reason]
    return STATE_MAP.get(state, State.UNKNOWN)


def record(uri: str, dom: Any, stats: Mapping[str, Any], *, with_xml: bool = False,
           owner: Owner | None = None) -> Resource:
    """A VM record from ``getAllDomainStats`` output, asking the domain for what the
    hypervisor's stats lack (the test driver reports the state only).

    ``raw`` is the stats, plus the domain XML when ``with_xml`` (``get``; lists skip the
    XML). ``owner``: the metadata already read by the caller, not asked for again."""
    if "state.state" in stats:
        state = state_of(int(stats["state.state"]), int(stats.get("state.reason", 0)))
    else:
        state = state_of(*dom.state())
    cpus, memory_kib = stats.get("vcpu.current"), stats.get("balloon.current")
    if cpus is None or memory_kib is None:
        info = dom.info()  # [state, max KiB, current KiB, vcpus, cpu time]
        cpus, memory_kib = info[3], info[2]
    owner = read_owner(dom) if owner is None else owner
    raw: dict[str, Any] = {"stats": dict(stats)}
    if with_xml:
        raw["xml"] = dom.XMLDesc(0)
    return Resource(
        uri=uri, kind=Kind.VM, id=dom.UUIDString(), name=dom.name(), state=state,
        labels=owner.labels,
        details={"cpus": int(cpus), "memory": int(memory_kib) * 1024,
                 "os": owner.guest_os},
        raw=raw)


def read_owner(dom: Any) -> Owner:
    """What our ``<metadata>`` element says (one small RPC); an empty Owner for domains
    not ours."""
    libvirt = import_libvirt()
    try:
        text = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, XML_NAMESPACE, 0)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_METADATA:
            return Owner()
        raise
    return definition.parse_owner(text)


def all_stats(conn: Any) -> list[tuple[Any, dict[str, Any]]]:
    """Every domain with state, vCPUs and memory in one call where the driver can."""
    libvirt = import_libvirt()
    wanted = (libvirt.VIR_DOMAIN_STATS_STATE | libvirt.VIR_DOMAIN_STATS_VCPU
              | libvirt.VIR_DOMAIN_STATS_BALLOON)
    try:
        # NOWAIT: a domain busy in a job (starting, migrating) must not stall the list.
        rows: list[tuple[Any, dict[str, Any]]] = conn.getAllDomainStats(
            wanted, libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT)
        return rows
    except libvirt.libvirtError as exc:
        if exc.get_error_code() not in codes(libvirt, "NO_SUPPORT", "INVALID_ARG",
                                             "OPERATION_UNSUPPORTED"):
            raise
    return [(dom, {}) for dom in conn.listAllDomains(0)]


def lookup(conn: Any, id: str) -> Any:
    """A domain by name or UUID (the id of our records)."""
    libvirt = import_libvirt()
    try:
        return conn.lookupByName(id)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN or not _UUID.match(id):
            raise
    return conn.lookupByUUIDString(id)
