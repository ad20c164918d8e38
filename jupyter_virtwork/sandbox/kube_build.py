"""Kubernetes v1.20.2 server binaries, built once from Debian's source package and cached.

Debian ships only kubectl from src:kubernetes, but its source tarball carries the whole tree
with vendor/, so the control plane can be built offline (no GitHub, no Go proxy). The build
is the sandbox's long pole (~13 min on 2 cores): it runs as a detached child process (its
output in ``<run dir>/kube-build.log``) and writes its progress to a state file so that
``status`` can say how far it is. The binaries land in a stable cache dir that survives
``down`` and later checkouts; when they are there, nothing is fetched or built.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import tarfile
import time
from pathlib import Path

from . import apt, paths, process
from .report import say
from .system import SandboxError, run

VERSION = "v1.20.2"
SERVER_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet",
                   "kube-proxy")
BINARIES = (*SERVER_BINARIES, "pause")
# Only for progress text. ENGINES.md measured 13 min; on this machine kind a cold build took
# 4.5-5 min with other builds running. Overestimating is the kinder error for a progress line.
EXPECTED_MINUTES = 13
BUILD_DAEMON = "kube-build"  # process name: pid file and log in the run dir

# golang-go: the compiler; rsync/jq: used by hack/ scripts; reflect2: the crash fix below;
# gcc: the static pause binary; etcd: the cluster's store; openssl: the PKI; iptables and
# conntrack: kube-proxy and the kubelet's network setup; libc6-dev: libc.a for -static.
# No dpkg-dev: the source is only downloaded, and its orig tarball untarred here.
BUILD_PACKAGES = ("golang-go", "rsync", "jq", "make", "gcc", "libc6-dev",
                  "golang-github-modern-go-reflect2-dev")
RUNTIME_PACKAGES = ("etcd-server", "etcd-client", "openssl", "iptables", "conntrack",
                    "iproute2")
REFLECT2_FIXED = Path("/usr/share/gocode/src/github.com/modern-go/reflect2")


def bin_dir() -> Path:
    return paths.cache_dir("kubernetes", VERSION)


def binary(name: str) -> Path:
    return bin_dir() / name


def cached() -> bool:
    return all(binary(name).is_file() for name in BINARIES)


def progress_file() -> Path:
    return paths.state_dir("kubernetes", "build.json")


def _work_dir() -> Path:
    # Scratch space for the 2.4 GB tree and Go cache: deleted once the binaries are cached.
    work = paths.cache_dir("kubernetes", "build")
    work.mkdir(parents=True, exist_ok=True)
    return work


def _write_progress(phase: str, started: float) -> None:
    data = {"phase": phase, "started": started, "expected_minutes": EXPECTED_MINUTES}
    progress_file().parent.mkdir(parents=True, exist_ok=True)
    progress_file().write_text(json.dumps(data))


def progress_text() -> str:
    """What the build is doing now ("" when no build runs); cheap, never raises."""
    try:
        data = json.loads(progress_file().read_text())
        phase, started = str(data["phase"]), float(data["started"])
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    if phase == "compiling" and process.running_pid(BUILD_DAEMON) is None:
        return ""  # the builder died or finished without clearing its file: not building
    minutes = int((time.time() - started) // 60)
    if phase == "compiling":
        return f"building from source, {minutes} of ~{EXPECTED_MINUTES} minutes"
    return f"preparing the source build ({phase})"


def ensure_binaries() -> None:
    """Install the runtime packages and make sure the cached binaries exist (build if not)."""
    apt.install(RUNTIME_PACKAGES, engine="kubernetes")
    if cached():
        return
    # One build at a time: a second `up` waits for the first instead of racing it.
    lock_path = paths.cache_dir("kubernetes", ".build.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("kubernetes", "another process is building Kubernetes; waiting for it")
            fcntl.flock(lock, fcntl.LOCK_EX)
        if not cached():
            _build()


def _build() -> None:
    started = time.time()
    _write_progress("installing build packages", started)
    try:
        apt.install(BUILD_PACKAGES, engine="kubernetes")
        tree = _source_tree(started)
        _fix_reflect2(tree)
        _compile(tree, started)
        _build_pause(tree)
        _copy_binaries(tree)
    finally:
        progress_file().unlink(missing_ok=True)
    minutes = (time.time() - started) / 60
    say("kubernetes", f"binaries cached after {minutes:.1f} min; removing the build tree")
    shutil.rmtree(_work_dir(), ignore_errors=True)


# --- the source package, with a private apt state -------------------------------------

def _mirror_entries() -> list[tuple[str, str, str]]:
    """(uri, suite, signed-by) of the system apt's bookworm entries, read at runtime."""
    entries: list[tuple[str, str, str]] = []
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        entries += _deb822_entries(path.read_text())
    for path in [Path("/etc/apt/sources.list"),
                 *sorted(Path("/etc/apt/sources.list.d").glob("*.list"))]:
        if path.is_file():
            entries += _one_line_entries(path.read_text())
    return [e for e in entries if e[1].startswith("bookworm")]


def _deb822_entries(text: str) -> list[tuple[str, str, str]]:
    entries = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            key, sep, value = line.partition(":")
            if sep and not line.startswith(("#", " ")):
                fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled") == "no":
            continue
        for uri in fields.get("uris", "").split():
            for suite in fields.get("suites", "").split():
                entries.append((uri, suite, fields.get("signed-by", "")))
    return entries


def _one_line_entries(text: str) -> list[tuple[str, str, str]]:
    entries = []
    for line in text.splitlines():
        match = re.match(r"\s*deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
        if match:
            signed = re.search(r"signed-by=(\S+?)[\s\]]", match.group(1) or "")
            entries.append((match.group(2), match.group(3), signed.group(1) if signed else ""))
    return entries


def _private_apt_options(apt_dir: Path) -> list[str]:
    """apt options that point at our own sources and lists, so the system apt stays as is."""
    wanted = {"bookworm", "bookworm-security", "bookworm-updates"}
    lines = []
    for uri, suite, signed_by in _mirror_entries():
        if suite in wanted:
            option = f"[signed-by={signed_by}] " if signed_by else ""
            lines.append(f"deb-src {option}{uri} {suite} main")
    if not lines:
        raise SandboxError("kubernetes: no bookworm entry in the system apt sources; cannot "
                           "find a Debian mirror for `apt-get source kubernetes`")
    (apt_dir / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (apt_dir / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    (apt_dir / "sources.list").write_text("\n".join(sorted(set(lines))) + "\n")
    return ["-o", f"Dir::Etc::SourceList={apt_dir / 'sources.list'}",
            "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", f"Dir::State::Lists={apt_dir / 'lists'}",
            "-o", f"Dir::Cache={apt_dir / 'cache'}"]


def _source_tree(started: float) -> Path:
    """Download the source package (once) and untar its orig tarball into the work dir."""
    work = _work_dir()
    tree = work / "gopath" / "src" / "k8s.io" / "kubernetes"
    if (tree / "Makefile").is_file():
        return tree  # a previous, interrupted build: reuse its tree and Go cache
    _write_progress("downloading the source package", started)
    source = work / "source"
    source.mkdir(parents=True, exist_ok=True)
    options = _private_apt_options(work / "apt")
    log = process.log_file(BUILD_DAEMON)
    say("kubernetes", "fetching Debian's kubernetes source package")
    # Its own lists, cache and sources: none of apt's shared locks, so no need to queue
    # behind the installer (apt.py) while the quick engines install.
    run(["apt-get", *options, "update"], log=log, timeout=900)
    run(["apt-get", *options, "source", "--download-only", "kubernetes"], cwd=source, log=log,
        timeout=1800)
    _write_progress("unpacking the source", started)
    _untar_orig(source, tree)
    return tree


def _untar_orig(source: Path, tree: Path) -> None:
    # The main orig tarball holds the whole tree (with vendor/) under one top directory.
    tarballs = sorted(p for p in source.glob("kubernetes_*.orig.tar.*"))
    if not tarballs:
        raise SandboxError(f"kubernetes: no orig tarball in {source}")
    unpack = source / "unpacked"
    shutil.rmtree(unpack, ignore_errors=True)
    unpack.mkdir()
    with tarfile.open(tarballs[0]) as archive:
        archive.extractall(unpack, filter="tar")
    tops = [p for p in unpack.iterdir() if p.is_dir()]
    if len(tops) != 1 or not (tops[0] / "Makefile").is_file():
        raise SandboxError(f"kubernetes: unexpected layout in {tarballs[0].name}")
    tree.parent.mkdir(parents=True, exist_ok=True)
    tops[0].rename(tree)


def _fix_reflect2(tree: Path) -> None:
    """Swap the vendored reflect2 v1.0.1 for Debian's v1.0.2.

    Built with Go >= 1.18, v1.0.1 makes kube-apiserver crash (or silently corrupt memory)
    whenever it pretty-prints JSON. The 1.20 build runs with GO111MODULE=off, so
    vendor/modules.txt needs no change; the vendored LICENSE is kept.
    """
    vendored = tree / "vendor" / "github.com" / "modern-go" / "reflect2"
    marker = tree.parents[3] / "reflect2-fixed"
    if marker.exists():
        return  # done by an interrupted earlier run; the vendored LICENSE is gone from /usr
    license_text = (vendored / "LICENSE").read_bytes()
    shutil.rmtree(vendored)
    shutil.copytree(REFLECT2_FIXED, vendored, symlinks=False)
    (vendored / "LICENSE").write_bytes(license_text)
    marker.touch()


def _compile(tree: Path, started: float) -> None:
    out = tree / "_output" / "local" / "bin" / "linux" / "amd64"
    if process.running_pid(BUILD_DAEMON) is None:
        for name in SERVER_BINARIES:
            (out / name).unlink(missing_ok=True)  # judge success by fresh binaries only
    gopath = tree.parents[2]
    env = {"GOPATH": str(gopath), "CGO_ENABLED": "0", "GOPROXY": "off", "GOFLAGS": "-mod=vendor",
           "GO111MODULE": "off", "KUBE_GIT_VERSION": VERSION, "KUBE_GIT_TREE_STATE": "clean",
           "GOCACHE": str(_work_dir() / "gocache"), "GOTOOLCHAIN": "local"}
    cmd = ["make", f"WHAT={' '.join('cmd/' + n for n in SERVER_BINARIES)}"]
    _write_progress("compiling", started)
    say("kubernetes", f"building {VERSION} from source (~{EXPECTED_MINUTES} min on 2 cores); "
                      f"log: {process.log_file(BUILD_DAEMON)}")
    # start_daemon adopts a build that an interrupted earlier `up` left running.
    pid = process.start_daemon(BUILD_DAEMON, cmd, env=env, cwd=tree)
    code = _wait_for_build(pid, started)
    missing = [n for n in SERVER_BINARIES if not (out / n).is_file()]
    if missing or code not in (0, None):
        tail = process.log_tail(BUILD_DAEMON)
        raise SandboxError(f"kubernetes: the build failed (exit code {code}, missing: "
                           f"{', '.join(missing) or 'none'}); its log ends with:\n{tail}")


def _wait_for_build(pid: int, started: float) -> int | None:
    """Wait for the build, saying how long it has run about once a minute; its exit code.

    None when the build is not our child (adopted from an interrupted earlier run): then
    only the binaries tell whether it worked.
    """
    last_minute = 0
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done, status = (pid, -1) if process.running_pid(BUILD_DAEMON) != pid else (0, 0)
        if done:
            process.pid_file(BUILD_DAEMON).unlink(missing_ok=True)
            return None if status == -1 else os.waitstatus_to_exitcode(status)
        minute = int((time.time() - started) // 60)
        if minute != last_minute:
            say("kubernetes", progress_text() or f"building, {minute} min")
            last_minute = minute
        time.sleep(2)


def _build_pause(tree: Path) -> None:
    """The pod sandbox's pause binary, static so that it runs in an otherwise empty image."""
    source = tree / "build" / "pause" / "linux" / "pause.c"
    if not source.is_file():
        source = tree / "build" / "pause" / "pause.c"
    output = tree / "_output" / "pause"
    run(["gcc", "-Os", "-static", f"-DVERSION={VERSION}", "-o", str(output), str(source)],
        log=process.log_file(BUILD_DAEMON))
    run(["strip", str(output)])


def _copy_binaries(tree: Path) -> None:
    out = tree / "_output" / "local" / "bin" / "linux" / "amd64"
    target = bin_dir()
    target.mkdir(parents=True, exist_ok=True)
    sources = {name: out / name for name in SERVER_BINARIES}
    sources["pause"] = tree / "_output" / "pause"
    for name, path in sources.items():
        # Copy to a temporary name, then rename: a half-copied binary never looks cached.
        partial = target / f".{name}.partial"
        shutil.copy2(path, partial)
        partial.chmod(0o755)
        partial.rename(target / name)
