"""A corpus of bad requests to the server extension's REST API, as a careless or hostile
client would send them: each must be answered with a 4xx JSON ``{code, message}`` whose
message is one line saying what is wrong (tests/server/test_bad_input.py sends them).

The one deliberate 5xx is 501 for an operation the engine's driver lacks (``errors.py``
maps UnsupportedOperation to 501 Not Implemented): the request is well formed, the engine
cannot do it. Paths are relative to /virtwork/api and percent-encoded as a client sends
them.
"""

from __future__ import annotations

from dataclasses import dataclass

NO_CONTAINER = "vw-no-such-container"


@dataclass(frozen=True)
class BadRequest:
    why: str  # the test's id
    path: str
    status: int
    code: str
    words: str  # the message must contain these
    method: str = "GET"
    body: bytes | None = None


def _action(why: str, path: str, status: int, code: str, words: str,
            body: bytes = b"") -> BadRequest:
    """A POST, with an empty body unless given one."""
    return BadRequest(why, path, status, code, words, "POST", body)


CORPUS: list[BadRequest] = [
    # which connection: aliases, URIs the policy refuses, URIs that carry a password
    BadRequest("unknown alias", "/resources?connection=nosuch", 404, "NotFound",
               "no connection named 'nosuch'"),
    BadRequest("alias with path traversal", "/resources?connection=..%2F..%2Fetc", 404,
               "NotFound", "no connection named '../../etc'"),
    BadRequest("no connection", "/resources", 400, "InvalidInput", "say which connection"),
    BadRequest("empty connection", "/resources?connection=", 400, "InvalidInput",
               "say which connection"),
    BadRequest("file URI", "/resources?connection=file:///etc/passwd", 400, "InvalidInput",
               "unknown connection scheme"),
    BadRequest("ssh URI not allowed", "/resources?connection=qemu%2Bssh://evil.example/system",
               403, "RefusedConnection", "allowed_uris"),
    BadRequest("tcp URI not allowed", "/resources?connection=docker%2Btcp://10.1.2.3:2375",
               403, "RefusedConnection", "does not allow connecting to docker+tcp://10.1.2.3"),
    _action("URI not allowed in the path",
            "/resources/docker%2Btcp%3A%2F%2F10.1.2.3%3A2375/container/x/stop", 403,
            "RefusedConnection", "allowed_uris"),
    BadRequest("password in the URI", "/resources?connection=vsphere://admin:hunter2@vc.example",
               400, "InvalidInput", "must not contain a password"),
    BadRequest("password in the path", "/resources/vsphere%3A%2F%2Fadmin%3Ahunter2%40vc/vm/x",
               400, "InvalidInput", "must not contain a password"),
    # kinds and actions
    BadRequest("unknown kind", "/resources?connection=docker&kind=planet", 400, "InvalidInput",
               "unknown kind 'planet'"),
    BadRequest("unknown kind in the path", "/resources/docker/planet/x", 400, "InvalidInput",
               "unknown kind 'planet'"),
    BadRequest("kind with a metacharacter", "/resources/docker/container%3Brm/x", 400,
               "InvalidInput", "unknown kind 'container;rm'"),
    BadRequest("kind the engine lacks", "/resources?connection=docker&kind=vm", 501,
               "UnsupportedOperation", "does not support 'list vm'"),
    _action("unknown action", f"/resources/docker/container/{NO_CONTAINER}/explode", 400,
            "InvalidInput", "unknown action 'explode'"),
    _action("action in capitals", f"/resources/docker/container/{NO_CONTAINER}/STOP", 400,
            "InvalidInput", "unknown action 'STOP'"),
    _action("action the engine lacks", "/resources/docker/image/vw-no-such-image/pause", 501,
            "UnsupportedOperation", "does not support 'pause image'"),
    # query parameters: each given once
    BadRequest("connection given twice", "/resources?connection=docker&connection=libvirt",
               400, "InvalidInput", "'connection' is given 2 times"),
    BadRequest("kind given twice", "/resources?connection=docker&kind=container&kind=image",
               400, "InvalidInput", "'kind' is given 2 times"),
    # names: unknown, shell metacharacters, path traversal, a NUL byte
    BadRequest("unknown container", f"/resources/docker/container/{NO_CONTAINER}", 404,
               "NotFound", f"no container '{NO_CONTAINER}'"),
    _action("name with ; rm -rf /", "/resources/docker/container/a%3Brm%20-rf%20%2F/stop",
            404, "NotFound", "'a;rm -rf /'"),
    _action("name with $(reboot)", "/resources/docker/container/%24(reboot)/delete", 404,
            "NotFound", "'$(reboot)'"),
    BadRequest("name with backticks", "/resources/libvirt/vm/%60id%60", 404, "NotFound",
               "no VM '`id`'"),
    BadRequest("container path traversal", "/resources/docker/container/..%2F..%2Fetc%2Fpasswd",
               404, "NotFound", "'../../etc/passwd'"),
    _action("VM path traversal", "/resources/libvirt/vm/..%2F..%2Fetc%2Fpasswd/delete", 404,
            "NotFound", "list them with %vm ls"),
    _action("unknown pod", "/resources/kubernetes/pod/vw-no-such-pod/delete", 404, "NotFound",
            "'vw-no-such-pod' not found"),
    BadRequest("pod name Kubernetes refuses", "/resources/kubernetes/pod/Bad_Name%3B", 404,
               "NotFound", "'Bad_Name;' not found"),
    _action("unknown deployment",
            "/resources/kubernetes/deployment/vw-no-such-deployment/delete", 404, "NotFound",
            "'vw-no-such-deployment' not found"),
    _action("unknown vSphere VM", "/resources/vsphere/vm/vm-999999/start", 404, "NotFound",
            "no VM 'vm-999999'"),
    BadRequest("NUL byte in the name", "/resources/docker/container/%00", 404, "NotFound",
               "no container"),
    # bodies: an action takes none, whatever it holds
    _action("malformed JSON body", f"/resources/docker/container/{NO_CONTAINER}/stop", 400,
            "InvalidInput", "takes no body (1 byte sent)", b"{"),
    _action("JSON list body", f"/resources/docker/container/{NO_CONTAINER}/stop", 400,
            "InvalidInput", "takes no body", b'["stop"]'),
    _action("JSON options body", f"/resources/docker/container/{NO_CONTAINER}/delete", 400,
            "InvalidInput", "takes no body", b'{"force": true}'),
    _action("oversize body", f"/resources/docker/container/{NO_CONTAINER}/stop", 400,
            "InvalidInput", "takes no body (1048576 bytes", b"x" * (1 << 20)),
    # methods and paths that are no endpoint
    BadRequest("DELETE a resource", f"/resources/docker/container/{NO_CONTAINER}", 405,
               "MethodNotAllowed", "DELETE is not allowed here: use GET", "DELETE"),
    BadRequest("PUT an action", f"/resources/docker/container/{NO_CONTAINER}/stop", 405,
               "MethodNotAllowed", "PUT is not allowed here: use POST", "PUT", b""),
    BadRequest("GET an action", f"/resources/docker/container/{NO_CONTAINER}/stop", 405,
               "MethodNotAllowed", "use POST"),
    _action("POST the connections", "/connections", 405, "MethodNotAllowed", "use GET"),
    BadRequest("PATCH the resources", "/resources?connection=docker", 405, "MethodNotAllowed",
               "PATCH is not allowed", "PATCH", b"{}"),
    BadRequest("unknown endpoint", "/nothing", 404, "NotFound", "no such endpoint"),
    BadRequest("missing id", "/resources/docker/container", 404, "NotFound",
               "no such endpoint"),
    _action("extra segment", f"/resources/docker/container/{NO_CONTAINER}/stop/now", 404,
            "NotFound", "no such endpoint"),
    BadRequest("URL not UTF-8", "/resources/docker/container/%FF", 400, "BadRequest",
               "Invalid unicode"),
    BadRequest("events without a WebSocket", "/events", 400, "BadRequest",
               "is a WebSocket"),
]
