"""``%vm``: create, configure and run VMs on vSphere or libvirt, the same verbs for both.

The source document's ``vmware-vcli create/config/start`` and ``xm create/dom-config/start``
become ``%vm create``, ``%vm config`` and ``%vm start`` with ``--on`` naming the connection.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from pathlib import Path

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class
from traitlets import Float, Unicode

from .. import defaults, registry
from .. import uri as uri_module
from ..drivers.base import Hypervisor
from ..errors import EngineUnavailable
from ..journal import Artefact, stem, subject
from ..models import Kind, Resource, VMSpec
from .base import (
    Parser,
    VirtworkMagics,
    reports_errors,
    show_command,
    usage_from,
    with_common,
    with_examples,
    with_fresh,
    with_yes,
)
from .journaling import did, shown
from .live import StatusView, progress_view, status_table

Handler = Callable[[Hypervisor, argparse.Namespace], object]


@functools.cache  # built once: argparse takes ~1 ms a build, more than a list call
def _parser() -> Parser:
    parser = Parser("%vm", "Create and run virtual machines on vSphere or libvirt.")
    verbs = parser.add_subparsers(dest="verb", required=True, parser_class=Parser)
    create = with_common(verbs.add_parser("create", help="create (and start) a VM"))
    create.add_argument("name", help="the VM's name")
    _on(create)
    create.add_argument("--os", default="other linux", help='guest OS, e.g. "ubuntu 18.04"')
    create.add_argument("--cpus", default="1", help="virtual CPUs")
    create.add_argument("--memory", default="512M", help="e.g. 4G, 4 GB, 512M")
    create.add_argument("--disk", help="e.g. 100G; thin-provisioned")
    create.add_argument("--kernel", type=Path, help="boot this kernel (libvirt)")
    create.add_argument("--initrd", type=Path, help="with --kernel: its initramfs")
    create.add_argument("--tiny-guest", action="store_true",
                        help="boot the tiny Linux guest of VMMagics.guest_dir (libvirt)")
    create.add_argument("--no-start", action="store_true", help="define it, do not start")
    create.add_argument("--dry-run", action="store_true", help="show the definition only")
    config = with_common(verbs.add_parser("config", help="change CPUs, memory, disk"))
    config.add_argument("name", help="the VM's name")
    _on(config)
    config.add_argument("--cpus", help="virtual CPUs")
    config.add_argument("--memory", help="e.g. 4G")
    config.add_argument("--disk", help="grow the disk to e.g. 100G")
    for verb in ("start", "stop", "suspend", "resume", "delete"):
        simple = with_common(verbs.add_parser(verb, help=f"{verb} a VM"))
        simple.add_argument("name", help="the VM's name")
        _on(simple)
        if verb in ("stop", "delete"):
            simple.add_argument("--force", action="store_true",
                                help="power it off at once" if verb == "stop" else
                                "even while it runs (its power is cut)")
            with_yes(simple)
    ls = with_fresh(with_common(verbs.add_parser("ls", help="list VMs")))
    _on(ls)
    ls.add_argument("--watch", action="store_true", help="a live table")
    console = with_common(verbs.add_parser("console", help="what the guest printed"))
    console.add_argument("name", help="the VM's name")
    _on(console)
    console.add_argument("--wait-for", help="wait until the console shows this text")
    console.add_argument("--timeout", type=float,
                         help="seconds --wait-for waits (default VMMagics.console_timeout)")
    with_examples(verbs, EXAMPLES)
    return parser


EXAMPLES = {
    "create": '%vm create my-vm --on libvirt --os "ubuntu 18.04" --cpus 2 --memory 4G '
              "--disk 100G",
    "config": "%vm config my-vm --cpus 2 --memory 4G --disk 100G",
    "start": "%vm start my-vm",
    "stop": "%vm stop my-vm --force",
    "suspend": "%vm suspend my-vm",
    "resume": "%vm resume my-vm",
    "delete": "%vm delete my-vm --force",
    "ls": "%vm ls --on vsphere --watch",
    "console": "%vm console my-vm --wait-for login: --timeout 120",
}


def _on(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--on", dest="connection",
                        help="vsphere, libvirt, a connection alias or URI")


@magics_class
class VMMagics(VirtworkMagics):
    _last_connection: str | None = None
    guest_dir = Unicode("", help="where --tiny-guest finds vmlinuz and initrd.img; empty: "
                                 "$VIRTWORK_GUEST_DIR, else guest.dir of the connections "
                                 "file").tag(config=True)

    connection = Unicode("libvirt", help="where %vm works when no --on names a connection "
                                         "and none was used yet: vsphere, libvirt, an alias "
                                         "or a URI (qemu:///system, vsphere://user@host)"
                         ).tag(config=True)
    console_timeout = Float(60.0, help="seconds %vm console --wait-for waits for its text"
                            ).tag(config=True)

    @line_magic
    @usage_from(_parser)
    @reports_errors
    def vm(self, line: str) -> object:
        """%vm create|config|start|stop|suspend|resume|delete|ls|console NAME [--on CONN]"""
        args = self.parse(_parser(), line)
        chosen = args.connection or self._last_open() or self.connection
        driver = self._driver(chosen)
        answered = True
        try:
            return self._handlers()[args.verb](driver, args)
        except EngineUnavailable:
            answered = False
            raise
        finally:
            if answered:
                self._remember(chosen)

    def _remember(self, chosen: str) -> None:
        """Make ``chosen`` the connection later %vm lines use. Only one whose engine answered:
        a failed `--on xen:///system` (no Xen here) must not capture them."""
        if "://" in chosen:
            self.session.connect(chosen, chosen)  # the same driver, now the family's current
        self._last_connection = chosen

    def _last_open(self) -> str | None:
        """The VM connection used last while the Session still holds it: one closed since
        (the Session reset, the extension reloaded) is forgotten, not an error."""
        last = self._last_connection
        if last is not None and last in {c.alias for c in self.session.connections()}:
            return last
        return None

    def _driver(self, chosen: str) -> Hypervisor:
        """``chosen`` as a family, alias or URI (``--on``, else the VM connection used
        last, else libvirt's default)."""
        if "://" in chosen:
            target = uri_module.parse(chosen)
            if not issubclass(registry.driver_class(target.family), Hypervisor):
                raise UsageError(f"%vm: {chosen} is not a vSphere or libvirt connection")
            self.session.connect(chosen, chosen, make_current=False)
        return self.session.hypervisor(chosen)

    def _handlers(self) -> dict[str, Handler]:
        return {"create": self._create, "config": self._config, "start": self._start,
                "stop": self._stop, "suspend": self._suspend, "resume": self._resume,
                "delete": self._delete, "ls": self._ls, "console": self._console}

    def _create(self, driver: Hypervisor, args: argparse.Namespace) -> Resource | None:
        kernel, initrd = args.kernel, args.initrd
        if args.tiny_guest:
            kernel, initrd = defaults.guest_files(self.guest_dir or None)
        spec = VMSpec.parse(args.name, cpus=args.cpus, memory=args.memory, disk=args.disk,
                            guest_os=args.os, kernel=kernel, initrd=initrd,
                            labels=self.session.labels)
        start = not args.no_start
        line = shown(args.show_command, driver.create_command(spec, start=start))
        if args.dry_run:
            print(driver.render(spec) or driver.create_command(spec, start=start))
            return None
        view = progress_view(f"creating {args.name}")
        try:
            vm = driver.create(spec, start=start, on_progress=view)
        except BaseException as exc:
            view.fail(str(exc))
            raise
        view.done(f"{args.name}: {vm.state}")
        did(driver, "create", line, made=[subject(driver.uri, "vm", args.name)],
            artefacts=[Artefact(f"{stem(spec.name)}.{driver.definition_suffix}",
                                driver.definition(spec, start=start))])
        return vm

    def _config(self, driver: Hypervisor, args: argparse.Namespace) -> Resource:
        if args.cpus is None and args.memory is None and args.disk is None:
            raise UsageError("%vm config: give --cpus, --memory or --disk")
        line = shown(args.show_command, driver.reconfigure_command(
            args.name, cpus=args.cpus, memory=args.memory, disk=args.disk))
        vm = driver.reconfigure(args.name, cpus=args.cpus, memory=args.memory, disk=args.disk)
        did(driver, "config", line, made=[subject(driver.uri, "vm", args.name)])
        return vm

    def _start(self, driver: Hypervisor, args: argparse.Namespace) -> Resource:
        line = shown(args.show_command, driver.command("start", args.name))
        return _changed(driver, "start", line, driver.start(Kind.VM, args.name), args.name)

    def _stop(self, driver: Hypervisor, args: argparse.Namespace) -> Resource:
        self.confirm_first(args, "Stop", lambda: [driver.get(Kind.VM, args.name)],
                           f"on {driver.uri}")
        line = shown(args.show_command, driver.command(
            "force-stop" if args.force else "stop", args.name))
        return _changed(driver, "stop", line,
                        driver.stop(Kind.VM, args.name, force=args.force), args.name)

    def _suspend(self, driver: Hypervisor, args: argparse.Namespace) -> Resource:
        line = shown(args.show_command, driver.command("pause", args.name))
        return _changed(driver, "pause", line, driver.pause(Kind.VM, args.name), args.name)

    def _resume(self, driver: Hypervisor, args: argparse.Namespace) -> Resource:
        line = shown(args.show_command, driver.command("resume", args.name))
        return _changed(driver, "resume", line, driver.resume(Kind.VM, args.name), args.name)

    def _delete(self, driver: Hypervisor, args: argparse.Namespace) -> None:
        self.confirm_first(args, "Delete", lambda: [driver.get(Kind.VM, args.name)],
                           f"on {driver.uri}")
        line = shown(args.show_command, driver.destroy_command(args.name, force=args.force))
        driver.destroy(Kind.VM, args.name, force=args.force)
        did(driver, "delete", line, removed=[subject(driver.uri, "vm", args.name)])
        print(f"{args.name} deleted")

    def _ls(self, driver: Hypervisor, args: argparse.Namespace) -> StatusView:
        show_command(args.show_command, driver, "list")
        if args.watch:
            return status_table([(driver, Kind.VM, None)], title="VMs",
                                language=self.language, actions=not self.read_only)
        return driver.list_cached(Kind.VM, fresh=args.fresh)

    def _console(self, driver: Hypervisor, args: argparse.Namespace) -> None:
        if not driver.serial_console:
            raise UsageError(f"%vm console: the {driver.name} driver has no serial console")
        show_command(args.show_command, driver, "console", args.name)
        timeout = self.console_timeout if args.timeout is None else args.timeout
        print(driver.console(args.name, wait_for=args.wait_for, timeout=timeout), end="")


def _changed(driver: Hypervisor, verb: str, line: str, vm: Resource, name: str) -> Resource:
    """``vm``, once the journal notes that ``line`` did ``verb`` to the VM ``name``."""
    did(driver, verb, line, made=[subject(driver.uri, "vm", name)])
    return vm
