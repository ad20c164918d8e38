"""``%vw created`` and ``%vw cleanup`` on the sandbox's real engines: every kind of object a
notebook makes is listed, and one cleanup leaves the engines as they were before.

Each test compares the engines' whole state (tests/reliability/engine_state.py: every
Kubernetes type by discovery, containers, images, registry, VMs and volumes) before and after.
Another person's work on the same sandbox meanwhile shows up as a difference too; the lines
name the objects, so whose they are is plain.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from jupyter_virtwork import labels as ownership
from jupyter_virtwork.errors import CleanupIncomplete
from jupyter_virtwork.magics.base import session
from jupyter_virtwork.models import Kind, ResourceList
from tests.reliability import engine_state

from .conftest import ensure_up, ipython_shell, restart_session
from .manifests import BUSYBOX, STUBBORN, Container, as_yaml, deployment, pod


@pytest.fixture
def ip(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The shell, with a session of its own whose id is stable for one "notebook": a new
    Session made by ``restart_session`` (a kernel restart) has the same id."""
    ensure_up(*engine_state.ENGINES)
    shell = ipython_shell()
    monkeypatch.setenv("JPY_SESSION_NAME", f"test-cleanup-{uuid.uuid4().hex[:8]}.ipynb")
    restart_session(shell)
    yield shell
    try:
        shell.run_line_magic("vw", "cleanup --yes --timeout 120")  # after a failure
    finally:
        restart_session(shell)


def _tag() -> str:
    return uuid.uuid4().hex[:6]


def _everything(t: str) -> str:
    """One cell of every common kind, a CRD and one of its custom resources included."""
    group = f"t{t}.virtwork.test"
    return f"""
apiVersion: v1
kind: ConfigMap
metadata: {{name: cm-{t}}}
data: {{greeting: hello}}
---
apiVersion: v1
kind: Secret
metadata: {{name: secret-{t}}}
stringData: {{password: not-a-real-one}}
---
apiVersion: v1
kind: Service
metadata: {{name: svc-{t}}}
spec:
  selector: {{app: job-{t}}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: v1
kind: Namespace
metadata: {{name: ns-{t}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: pod-{t}, namespace: ns-{t}}}
spec:
  containers: [{{name: c, image: {BUSYBOX}, imagePullPolicy: Never, command: [sleep, "600"]}}]
---
apiVersion: batch/v1
kind: Job
metadata: {{name: job-{t}}}
spec:
  backoffLimit: 0
  template:
    metadata: {{labels: {{app: job-{t}}}}}
    spec:
      restartPolicy: Never
      containers: [{{name: c, image: {BUSYBOX}, imagePullPolicy: Never,
                    command: [sleep, "600"]}}]
---
apiVersion: batch/v1beta1
kind: CronJob
metadata: {{name: cron-{t}}}
spec:
  schedule: "0 0 1 1 *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{{name: c, image: {BUSYBOX}, imagePullPolicy: Never, command: ["true"]}}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: pvc-{t}}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 1Mi}}}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: sa-{t}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: role-{t}}}
rules: [{{apiGroups: [""], resources: [pods], verbs: [get, list]}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: rb-{t}}}
subjects: [{{kind: ServiceAccount, name: sa-{t}, namespace: default}}]
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: role-{t}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: ing-{t}}}
spec:
  rules:
  - http:
      paths:
      - path: /
        pathType: Prefix
        backend: {{service: {{name: svc-{t}, port: {{number: 80}}}}}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: gadgets.{group}}}
spec:
  group: {group}
  scope: Namespaced
  names: {{plural: gadgets, singular: gadget, kind: Gadget}}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}
---
apiVersion: {group}/v1
kind: Gadget
metadata: {{name: gadget-{t}}}
spec: {{size: 3}}
"""


EVERY_KIND = {"ConfigMap": "cm", "Secret": "secret", "Service": "svc", "Namespace": "ns",
              "Pod": "pod", "Job": "job", "CronJob": "cron", "PersistentVolumeClaim": "pvc",
              "ServiceAccount": "sa", "Role": "role", "RoleBinding": "rb", "Ingress": "ing",
              "Gadget": "gadget"}


def _kinds_and_names(rows: ResourceList) -> set[tuple[str, str]]:
    return {(str(r.to_dict()["kind"]), r.name) for r in rows}


@pytest.fixture
def look_alike() -> Iterator[str]:
    """A ConfigMap of the same shape as the cell's, made without our labels (by someone
    else, or by kubectl), through the SDK itself: cleanup must leave it. Its name's tag."""
    from kubernetes import client, config

    from jupyter_virtwork.sandbox import kube_pki

    t = _tag()
    api = config.new_client_from_config(config_file=str(kube_pki.kubeconfig_path()),
                                        context=kube_pki.CONTEXT)
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map("default", {
        "metadata": {"name": f"cm-{t}-alike", "labels": {"app": f"cm-{t}"}},
        "data": {"greeting": "hello"}})
    yield t
    core.delete_namespaced_config_map(f"cm-{t}-alike", "default")
    api.close()


def _cleanup_leaves(ip: Any, before: dict[str, Any], capsys: pytest.CaptureFixture[str],
                    ) -> ResourceList:
    capsys.readouterr()
    removed = ip.run_line_magic("vw", "cleanup --yes")
    assert isinstance(removed, ResourceList), capsys.readouterr().err
    after = engine_state.snapshot()
    difference = engine_state.differences(before, after)
    assert difference == [], "\n".join(difference)
    return removed


def _every_kind_is_listed(rows: ResourceList, t: str) -> None:
    listed = _kinds_and_names(rows)
    for kind, prefix in EVERY_KIND.items():
        assert (kind, f"{prefix}-{t}") in listed, f"{kind} {prefix}-{t} not in {listed}"
    assert ("CustomResourceDefinition", f"gadgets.t{t}.virtwork.test") in listed
    frame = rows.to_dataframe()
    assert list(frame.columns[:3]) == ["kind", "name", "state"]
    assert set(EVERY_KIND) <= set(frame["kind"])


def test_every_kind_a_cell_applies_is_listed_and_cleaned_in_one_run(
        ip: Any, look_alike: str, capsys: pytest.CaptureFixture[str]) -> None:
    t = look_alike
    before = engine_state.snapshot()
    assert f"configmap default/cm-{t}-alike" in before["k8s"]
    applied = ip.run_cell_magic("k8s", "apply", _everything(t))
    assert applied is not None and len(applied) == 14, capsys.readouterr().err
    created = ip.run_line_magic("vw", "created")
    _every_kind_is_listed(created, t)
    assert f"cm-{t}-alike" not in {r.name for r in created}
    # Each carries the session's labels, and its record the uid and namespace.
    assert all(ownership.is_ours(r.labels, session(ip).id) for r in created)
    pod = next(r for r in created if r.name == f"pod-{t}")
    assert (pod.details["namespace"], len(str(pod.details["uid"]))) == (f"ns-{t}", 36)
    removed = _cleanup_leaves(ip, before, capsys)  # the look-alike is in both snapshots
    assert {f"job-{t}", f"cron-{t}", f"gadgets.t{t}.virtwork.test"} <= {
        r.name for r in removed}
    assert ip.run_line_magic("vw", "created") == ResourceList()


def test_a_restarted_kernel_finds_and_cleans_what_it_applied(
        ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    t = _tag()
    before = engine_state.snapshot()
    before_restart = session(ip)
    assert ip.run_cell_magic("k8s", "apply", _everything(t)) is not None
    restart_session(ip)  # the kernel restarts: the Session and its record are gone
    assert session(ip) is not before_restart
    assert session(ip).id == before_restart.id  # the same notebook, so the same id
    _every_kind_is_listed(ip.run_line_magic("vw", "created"), t)
    _cleanup_leaves(ip, before, capsys)


def test_a_mixed_set_across_backends_is_cleaned_in_one_run(
        ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """The seed's walkthrough: an image built and pushed, a container of it (with an
    anonymous volume), a Deployment of 3 whose pods use that image, a QEMU VM with a disk
    volume and a vSphere VM. The image can go only once the pods' containers are gone:
    cleanup waits for that."""
    t = _tag()
    image, client = f"vw-cleanup-image-{t}", docker.from_env()
    before = engine_state.snapshot()
    try:
        built = ip.run_cell_magic("dockerfile", f"-t {image}",
                                  f'FROM {BUSYBOX}\nVOLUME /data\n'
                                  'CMD ["httpd", "-f", "-p", "8080"]\n')
        assert built is not None, capsys.readouterr().err
        assert ip.run_line_magic("docker", f"push {image}") is not None
        assert client.api.images(name=f"127.0.0.1:5000/{image}")  # tagged and pushed
        assert ip.run_line_magic(
            "docker", f"run -d --name ctr-{t} --network none {image}") is not None
        web = deployment(f"web-{t}", Container("web", f"{image}:latest"), grace=None)
        assert ip.run_cell_magic("k8s", "apply", as_yaml(web)) is not None
        done = ip.run_line_magic("k8s", f"scale --replicas=3 deployment/web-{t} --wait")
        assert done is not None and done.details["ready"] == "3/3", capsys.readouterr().err
        # The pods' containers run the image this session built; ours has a volume.
        assert len(client.containers.list(filters={"ancestor": f"{image}:latest"})) == 4
        assert client.containers.get(f"ctr-{t}").attrs["Mounts"][0]["Type"] == "volume"
        for on, extra in (("qemu:///system", "--tiny-guest --disk 64M"), ("vsphere", "")):
            vm = ip.run_line_magic("vm", f"create vm-{t} --on {on} --memory 128M {extra}")
            assert vm is not None, capsys.readouterr().err
        created = ip.run_line_magic("vw", "created")
        kinds = {r.kind for r in created}
        assert {Kind.IMAGE, Kind.CONTAINER, Kind.DEPLOYMENT, Kind.POD, Kind.VM} <= kinds
        removed = _cleanup_leaves(ip, before, capsys)
        assert f"127.0.0.1:5000/{image}:latest in its registry" in {r.name for r in removed}
    finally:
        client.close()


def test_an_image_someone_else_still_uses_is_left_and_said(
        ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """A container of our image that this notebook did not run (it inherits the image's
    labels, ours) is not ours: cleanup leaves it and the image, and says so, one line."""
    t = _tag()
    image, client = f"vw-cleanup-used-{t}", docker.from_env()
    ip.run_cell_magic("dockerfile", f"-t {image}", f'FROM {BUSYBOX}\nCMD ["sleep", "300"]\n')
    ip.run_line_magic("docker", f"run -d --name mine-{t} --network none {image}")
    stranger = client.containers.create(image, name=f"stranger-{t}", network_mode="none")
    try:
        with pytest.raises(CleanupIncomplete) as refused:
            ip.run_line_magic("vw", "cleanup --yes")
        said = str(refused.value)
        assert said.splitlines() == [
            "cleanup removed 1 but left 1: fix each, then run %vw cleanup --yes again",
            f"  image '{image}:latest' on docker://: used by created container "
            f"'stranger-{t}' (not this notebook's)"]
        stranger.reload()  # untouched
        assert {c.name for c in client.containers.list(all=True)} >= {f"stranger-{t}"}
        assert f"mine-{t}" not in {c.name for c in client.containers.list(all=True)}
    finally:
        stranger.remove(force=True)
        client.close()
    assert [r.name for r in ip.run_line_magic("vw", "cleanup --yes")] == [f"{image}:latest"]


def test_k8s_delete_waits_like_kubectl_unless_told_not_to(ip: Any) -> None:
    t = _tag()
    ip.run_cell_magic("k8s", "apply", as_yaml(pod(f"slow-{t}", Container(command=STUBBORN),
                                                  grace=60)))
    pods: Any = session(ip).driver("kubernetes")
    deadline = time.monotonic() + 60
    while pods.get(Kind.POD, f"slow-{t}").state.value != "running":
        assert time.monotonic() < deadline, "the pod did not start"
        time.sleep(0.2)
    started = time.monotonic()
    ip.run_line_magic("k8s", f"delete pod/slow-{t} --wait=false")
    assert time.monotonic() - started < 10  # not its 60 s grace period
    assert pods.get(Kind.POD, f"slow-{t}").details["reason"] == "Terminating"
    ip.run_line_magic("k8s", f"delete pod/slow-{t} --grace-period 1")  # waits: the default
    assert f"slow-{t}" not in {p.name for p in pods.list(Kind.POD)}


def test_what_a_cleanup_cannot_finish_is_named_with_why(
        ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """An object held by a finalizer nobody removes stays: cleanup waits its bound, then
    names it and what holds it, one line, and the cell fails. Once released, it goes."""
    from kubernetes import client, config

    from jupyter_virtwork.sandbox import kube_pki

    t = _tag()
    ip.run_cell_magic("k8s", "apply", f"""
apiVersion: v1
kind: ConfigMap
metadata: {{name: held-{t}, finalizers: [virtwork.test/hold]}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: free-{t}}}
""")
    with pytest.raises(CleanupIncomplete) as refused:
        ip.run_line_magic("vw", "cleanup --yes --timeout 3")
    said = str(refused.value)
    first, *left = said.splitlines()
    assert first == "cleanup removed 1 but left 1: fix each, then run %vw cleanup --yes again"
    assert len(left) == 1 and left[0].startswith(f"  configmap 'default/held-{t}' on k8s://")
    assert left[0].endswith("deleting, held by finalizers virtwork.test/hold"), left[0]
    api = config.new_client_from_config(config_file=str(kube_pki.kubeconfig_path()),
                                        context=kube_pki.CONTEXT)
    try:
        client.CoreV1Api(api).patch_namespaced_config_map(
            f"held-{t}", "default", {"metadata": {"finalizers": None}})
    finally:
        api.close()
    assert ip.run_line_magic("vw", "created") == ResourceList()


def test_an_object_that_existed_before_stays_when_a_cell_changes_it(
        ip: Any, look_alike: str) -> None:
    """Applying a change to someone's object (a bundle's ``default`` Namespace, a
    colleague's ConfigMap) does not make it the notebook's: no labels, no cleanup."""
    from kubernetes import client, config

    from jupyter_virtwork.sandbox import kube_pki

    t = look_alike
    applied = ip.run_cell_magic("k8s", "apply", f"""
apiVersion: v1
kind: ConfigMap
metadata: {{name: cm-{t}-alike}}
data: {{greeting: changed}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: cm-{t}-new}}
""")
    assert [r.name for r in applied] == [f"cm-{t}-alike", f"cm-{t}-new"]
    assert [r.name for r in ip.run_line_magic("vw", "created")] == [f"cm-{t}-new"]
    assert [r.name for r in ip.run_line_magic("vw", "cleanup --yes")] == [f"cm-{t}-new"]
    api = config.new_client_from_config(config_file=str(kube_pki.kubeconfig_path()),
                                        context=kube_pki.CONTEXT)
    try:
        kept = client.CoreV1Api(api).read_namespaced_config_map(f"cm-{t}-alike", "default")
    finally:
        api.close()
    assert kept.data == {"greeting": "changed"}
    assert not ownership.is_ours(kept.metadata.labels or {})
