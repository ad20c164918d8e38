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


def test_errors_render_as_one_line_in_ipython() -> None:
    err = errors.NotFound("no container 'web'", connection="docker://", hint="list them")
    assert err._render_traceback_() == ["NotFound: no container 'web' on docker://: list them"]
    err.full_traceback = True  # IPython then finds no hook and shows the traceback
    assert not hasattr(err, "_render_traceback_")
    assert hasattr(errors.InvalidArguments("x"), "_render_traceback_")


def test_records_print_as_text_tables() -> None:
    from datetime import datetime, timezone

    from IPython.lib.pretty import pretty

    long_id = "0123456789ab" + "c" * 52
    table = ResourceList([
        Resource("docker://", Kind.CONTAINER, long_id, "web", State.RUNNING,
                 created=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
                 details={"image": "localbase/busybox:1.35"}),
        _container("db", State.PAUSED)])
    text = pretty(table)
    assert text == str(table)
    header, web, db = text.splitlines()
    assert header.split() == ["KIND", "NAME", "STATE", "IMAGE", "ID", "URI", "CREATED"]
    assert web.split() == ["container", "web", "running", "localbase/busybox:1.35",
                           "0123456789ab", "docker://", "2026-01-02", "03:04:05"]
    assert header.index("STATE") == web.index("running") == db.index("paused")
    assert pretty(table[0]).splitlines()[1].split()[:3] == ["container", "web", "running"]
    assert pretty(ResourceList()).splitlines()[-1] == "(none)"


def test_dataframes_have_datetime_times_and_stable_columns() -> None:
    from datetime import datetime, timezone

    import pandas

    created = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    frame = ResourceList([
        Resource("docker://", Kind.CONTAINER, "id", "web", State.RUNNING, created=created),
        _container("db", State.PAUSED)]).to_dataframe()
    assert pandas.api.types.is_datetime64_any_dtype(frame["created"])
    assert frame["created"][0] == pandas.Timestamp(created)
    assert pandas.isna(frame["created"][1])
    assert list(frame.columns) == ["kind", "name", "state", "image", "id", "uri", "created",
                                   "labels"]
    empty = ResourceList().to_dataframe()
    assert list(empty.columns) == ["kind", "name", "state", "id", "uri", "created", "labels"]
    assert pandas.api.types.is_datetime64_any_dtype(empty["created"])


def test_exec_results_print_their_output_and_exit_code() -> None:
    from IPython.lib.pretty import pretty

    from jupyter_virtwork.models import ExecResult

    assert pretty(ExecResult(3, "out\n", "err\n")) == "out\nerr\n(exit code 3)"
