"""The sandbox's vSphere simulators (vCenter and ESXi modes), driven through pyvmomi.

TLS is verified against the certificate each daemon exports; nothing here disables it.
The fixture brings vcsim up through the CLI only if it is not ready (first time on a
machine: a ~35 s Go build).
"""

from __future__ import annotations

import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_virtwork.sandbox import process, vcsim
from jupyter_virtwork.sandbox.vcsim import Instance, VcsimEngine

pytestmark = pytest.mark.engines("vcsim")


def _cli(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jupyter_virtwork.sandbox", *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="session")
def sandbox() -> None:
    if not VcsimEngine().status().ready or process.running_pid(vcsim.ESX_NAME) is None:
        proc = _cli("up", "vcsim")
        assert proc.returncode == 0, proc.stderr[-3000:]


def _connect(instance: Instance, password: str | None = None) -> Any:
    from pyVim.connect import SmartConnect

    user, real_password = vcsim.credentials()
    return SmartConnect(host=vcsim.HOST, port=instance.port, user=user,
                        pwd=real_password if password is None else password,
                        sslContext=vcsim.ssl_context(instance))


@pytest.fixture(params=[vcsim.VCENTER, vcsim.ESXI], ids=["vcenter", "esxi"])
def service(request: pytest.FixtureRequest, sandbox: None) -> Iterator[Any]:
    from pyVim.connect import Disconnect

    si = _connect(request.param)
    yield si
    Disconnect(si)


def _names(si: Any, kind: Any) -> list[str]:
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [kind], True)
    try:
        return sorted(obj.name for obj in view.view)
    finally:
        view.Destroy()


def test_login_and_list_vms(service: Any) -> None:
    from pyVmomi import vim

    about = service.RetrieveContent().about
    vms = _names(service, vim.VirtualMachine)
    if about.apiType == "VirtualCenter":
        # DEFAULT_INVENTORY: 2 VMs in the cluster's pool, 2 on the standalone host
        assert len(vms) == 4, vms
        assert len(_names(service, vim.ClusterComputeResource)) == 1
        assert len(_names(service, vim.HostSystem)) == 4
    else:
        assert about.apiType == "HostAgent"
        assert len(vms) == 2, vms
    assert len(_names(service, vim.Datastore)) == 1


def test_wrong_password_is_refused(sandbox: None) -> None:
    from pyVmomi import vim

    for instance in (vcsim.VCENTER, vcsim.ESXI):
        with pytest.raises(vim.fault.InvalidLogin):
            _connect(instance, password="not-the-password")


def test_tls_is_verified_against_the_exported_certificate(sandbox: None) -> None:
    # The system trust store does not know the per-start certificate: a refusal proves
    # that the passing logins above really verified it.
    from pyVim.connect import SmartConnect

    user, password = vcsim.credentials()
    with pytest.raises(ssl.SSLCertVerificationError):
        SmartConnect(host=vcsim.HOST, port=vcsim.PORT, user=user, pwd=password,
                     sslContext=ssl.create_default_context())


def test_credentials_file_is_private(sandbox: None) -> None:
    assert vcsim.credentials_file().stat().st_mode & 0o077 == 0


def test_password_never_shown(sandbox: None) -> None:
    _, password = vcsim.credentials()
    proc = _cli("status", "--json", "vcsim", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert '"ready": true' in proc.stdout
    assert password not in proc.stdout + proc.stderr
    for name in (vcsim.NAME, vcsim.ESX_NAME):
        pid = process.running_pid(name)
        assert pid is not None
        assert password.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
        assert password not in process.log_file(name).read_text(errors="replace")


def test_status_reports_connection_facts(sandbox: None) -> None:
    status = VcsimEngine().status()
    assert status.ready and status.version
    assert status.endpoint == "https://127.0.0.1:8989/sdk"
    assert status.extra["esx_url"] == "https://127.0.0.1:8990/sdk"
    assert Path(status.extra["cafile"]).exists()
    assert status.extra["username"]


def test_the_default_vsphere_connection_is_the_simulator(
        sandbox: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """`up` wrote the simulator into the user's connections file, 0600: the defaults find
    it there, knowing nothing of the sandbox."""
    from jupyter_virtwork import defaults, userconfig

    monkeypatch.delenv("GOVC_URL", raising=False)
    found = defaults.vsphere()
    assert found is not None
    assert found.uri == f"vsphere://{vcsim.USERNAME}@{vcsim.HOST}:{vcsim.PORT}"
    assert found.options == {"password": vcsim.credentials()[1],
                             "cafile": str(vcsim.VCENTER.cafile)}
    assert userconfig.path().stat().st_mode & 0o077 == 0
