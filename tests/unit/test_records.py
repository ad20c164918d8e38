"""Records and the error tree: one-line messages, JSON-able rows, tables."""

import json

import pytest

from jupyter_virtwork import errors
from jupyter_virtwork.models import Kind, Resource, ResourceList, State


def test_every_error_is_a_virtwork_error_with_one_line() -> None:
    leaves = [errors.InvalidInput, errors.MissingDependency, errors.EngineUnavailable,
              errors.TLSVerificationFailed, errors.AuthenticationFailed, errors.NotFound,
              errors.AlreadyExists, errors.OperationFailed, errors.BuildError,
              errors.OperationTimeout, errors.Cancelled]
    for leaf in leaves:
        err = leaf("it broke\nbadly", connection="docker://", hint="do this")
        assert isinstance(err, errors.VirtworkError)
        assert str(err) == "it broke badly on docker://: do this"


def test_unsupported_operation_names_driver_and_verb() -> None:
    err = errors.UnsupportedOperation("vsphere", "pause", connection="vsphere://u@h")
    assert "vsphere" in str(err) and "pause" in str(err)


def test_errors_keep_python_meaning() -> None:
    assert issubclass(errors.NotFound, LookupError)
    assert issubclass(errors.EngineUnavailable, ConnectionError)
    assert issubclass(errors.InvalidInput, ValueError)


def _container(name: str, state: State) -> Resource:
    return Resource("docker://", Kind.CONTAINER, f"id-{name}", name, state,
                    labels={"app": name}, details={"image": "localbase/busybox:1.35"},
                    raw={"Id": f"id-{name}"})


def test_records_are_frozen_and_serialise() -> None:
    record = _container("web", State.RUNNING)
    with pytest.raises(AttributeError):
        record.name = "other"  # type: ignore[misc]
    row = json.loads(json.dumps(record.to_dict()))
    assert row["state"] == "running" and row["image"] == "localbase/busybox:1.35"
    assert "raw" not in row


def test_raw_does_not_take_part_in_equality() -> None:
    a = _container("web", State.RUNNING)
    b = Resource(a.uri, a.kind, a.id, a.name, a.state, a.labels, None, a.details, raw="x")
    assert a == b


def test_table_html_escapes_and_exports() -> None:
    table = ResourceList([_container("<b>web</b>", State.RUNNING),
                          _container("db", State.PAUSED)])
    page = table._repr_html_()
    assert "&lt;b&gt;web&lt;/b&gt;" in page and "<b>web" not in page
    frame = table.to_dataframe()
    assert list(frame["state"]) == ["running", "paused"]
    assert "image" in frame.columns
