"""Local base images, built on this machine so that nothing is ever pulled from Docker Hub.

A missing image makes dockerd ask Docker Hub, which this machine cannot (and tests must not)
reach. So the sandbox imports its own bases:

- ``localbase/busybox:1.35``: Debian's busybox-static plus its applet links, passwd/group:
  a 2 MB image that starts in a blink, with ``sh``, ``wget`` and ``httpd`` for tutorials;
- ``localbase/debian:bookworm``: a ``debootstrap --variant=minbase`` rootfs from the Debian
  mirror the system's apt already uses (read at run time, never hard-coded). It takes ~45 s,
  so the tarball is cached and a machine builds it once.

``stop`` leaves the images in place: they are data, not a running service.
"""

from __future__ import annotations

import fcntl
import io
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from . import apt, paths
from . import docker as docker_engine
from .engine import Engine, EngineStatus
from .report import say
from .system import SandboxError, require_root_debian, run

if TYPE_CHECKING:
    from docker import APIClient

BUSYBOX_IMAGE = "localbase/busybox:1.35"
DEBIAN_IMAGE = "localbase/debian:bookworm"
IMAGES = (BUSYBOX_IMAGE, DEBIAN_IMAGE)
SUITE = "bookworm"
PACKAGES = ("busybox-static", "debootstrap", "debian-archive-keyring")
BUSYBOX = Path("/bin/busybox")
DEBIAN_CHANGES = ['CMD ["/bin/bash"]',
                  "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
BUSYBOX_CHANGES = ['CMD ["/bin/sh"]', "ENV PATH=/bin"]
PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"
APT_SOURCES = Path("/etc/apt")


def _cached(name: str) -> Path:
    """A path in our cache subdirectory (paths.cache_dir creates only the top)."""
    folder = paths.cache_dir("images")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def debian_tarball() -> Path:
    return _cached(f"debian-{SUITE}-minbase.tar")


class ImagesEngine(Engine):
    name = "images"
    needs = ("docker",)

    def install(self) -> None:
        apt.install(PACKAGES, engine=self.name)
        with _build_lock():  # two `up`s at once must not debootstrap into the same dir
            if not debian_tarball().exists():
                _build_debian_tarball(self.name)

    def start(self) -> None:
        if not docker_engine.ping():
            raise SandboxError("images: dockerd does not answer; "
                               "`python -m jupyter_virtwork.sandbox up docker` first")
        api = docker_engine.client(timeout=600).api
        try:
            if not _exists(api, BUSYBOX_IMAGE):
                say(self.name, f"importing {BUSYBOX_IMAGE}")
                _import(api, BUSYBOX_IMAGE, busybox_tarball(), BUSYBOX_CHANGES)
            if not _exists(api, DEBIAN_IMAGE):
                say(self.name, f"importing {DEBIAN_IMAGE}")
                _import(api, DEBIAN_IMAGE, debian_tarball(), DEBIAN_CHANGES)
        finally:
            api.close()

    def stop(self) -> None:
        say(self.name, "images stay in dockerd (nothing to stop)")

    def status(self) -> EngineStatus:
        try:
            with docker_engine.connected(timeout=3) as client:
                present = [ref for ref in IMAGES if _exists(client.api, ref)]
        except Exception as exc:  # noqa: BLE001 - status never raises, it explains
            return EngineStatus(self.name, False, detail=f"dockerd not answering: {exc}")
        missing = [ref for ref in IMAGES if ref not in present]
        detail = f"missing {', '.join(missing)}" if missing else ""
        return EngineStatus(self.name, not missing, docker_engine.BASE_URL, detail=detail,
                            extra={"images": present})


def _exists(api: APIClient, ref: str) -> bool:
    import docker.errors

    try:
        api.inspect_image(ref)
    except docker.errors.ImageNotFound:
        return False
    return True


def _import(api: APIClient, ref: str, source: bytes | Path, changes: list[str]) -> None:
    repository, _, tag = ref.rpartition(":")
    if isinstance(source, Path):  # streamed from disk: the Debian tarball is ~200 MB
        api.import_image_from_file(
            str(source), repository=repository, tag=tag, changes=changes)
    else:
        api.import_image_from_data(
            source, repository=repository, tag=tag, changes=changes)


@contextmanager
def _build_lock() -> Iterator[None]:
    with open(_cached(".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


# --- busybox -----------------------------------------------------------------------------

def busybox_tarball() -> bytes:
    """A rootfs tar with /bin/busybox, one symlink per applet, and passwd/group."""
    if not BUSYBOX.exists():
        raise SandboxError("images: /bin/busybox missing; `apt-get install busybox-static`")
    applets = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for directory, mode in (("bin", 0o755), ("etc", 0o755), ("root", 0o700),
                                ("tmp", 0o1777), ("proc", 0o755), ("sys", 0o755),
                                ("dev", 0o755), ("www", 0o755)):
            tar.addfile(_entry(directory, tarfile.DIRTYPE, mode))
        tar.add(BUSYBOX, arcname="bin/busybox", filter=_root_owned)
        for applet in applets:
            if applet != "busybox":
                link = _entry(f"bin/{applet}", tarfile.SYMTYPE, 0o777)
                link.linkname = "busybox"
                tar.addfile(link)
        for name, text in (("etc/passwd", PASSWD), ("etc/group", GROUP)):
            data = text.encode()
            member = _entry(name, tarfile.REGTYPE, 0o644)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return buf.getvalue()


def _entry(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode = kind, mode
    return info


def _root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


# --- debian ------------------------------------------------------------------------------

def _build_debian_tarball(engine: str) -> None:
    require_root_debian(engine)
    mirror, keyring = debian_mirror()
    rootfs = _cached(f"debian-{SUITE}.rootfs")
    shutil.rmtree(rootfs, ignore_errors=True)  # a half-built rootfs from an interrupted run
    log = paths.run_dir("debootstrap.log")
    say(engine, f"debootstrap {SUITE} minbase (about 45 s, once per machine; log: {log})")
    cmd = ["debootstrap", "--variant=minbase"]
    if keyring:
        cmd.append(f"--keyring={keyring}")
    run([*cmd, SUITE, str(rootfs), mirror], log=log, timeout=1800)
    # Drop the downloaded .debs: they would double the image for nothing.
    shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
    (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
    target = debian_tarball()
    tmp = target.with_suffix(".tmp")
    run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(tmp), "."], timeout=600)
    tmp.replace(target)  # only a complete tarball ever carries the cached name
    shutil.rmtree(rootfs)


def debian_mirror() -> tuple[str, str]:
    """(mirror URI, keyring or "") of the apt source that serves ``SUITE`` itself."""
    for uri, suites, keyring in _apt_sources():
        if SUITE in suites:
            return uri, keyring
    raise SandboxError(f"images: no apt source serves `{SUITE}` in {APT_SOURCES}/sources.list"
                       " or sources.list.d/; add one (debootstrap uses the same mirror)")


def _apt_sources() -> Iterator[tuple[str, list[str], str]]:
    """(URI, suites, Signed-By keyring) of every enabled `deb` source, both file formats."""
    one_line = [APT_SOURCES / "sources.list", *sorted(APT_SOURCES.glob("sources.list.d/*.list"))]
    for path in one_line:
        if path.is_file():
            yield from _one_line_sources(path.read_text())
    for path in sorted(APT_SOURCES.glob("sources.list.d/*.sources")):
        yield from _deb822_sources(path.read_text())


def _one_line_sources(text: str) -> Iterator[tuple[str, list[str], str]]:
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        options = re.search(r"\[([^]]*)\]", line)
        words = re.sub(r"\[[^]]*\]", " ", line).split()
        if len(words) >= 3 and words[0] == "deb":
            keyring = re.search(r"signed-by=(\S+)", options.group(1)) if options else None
            yield words[1], [words[2]], keyring.group(1) if keyring else ""


def _deb822_sources(text: str) -> Iterator[tuple[str, list[str], str]]:
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    for stanza in "\n".join(lines).split("\n\n"):
        fields = dict(re.findall(r"^([\w-]+):[ \t]*(.*)$", stanza, flags=re.MULTILINE))
        fields = {key.lower(): value.strip() for key, value in fields.items()}
        if "deb" not in fields.get("types", "").split() or fields.get("enabled") == "no":
            continue
        keyring = fields.get("signed-by", "")
        keyring = keyring if keyring.startswith("/") else ""  # an inline key is not a path
        for uri in fields.get("uris", "").split():
            yield uri, fields.get("suites", "").split(), keyring
