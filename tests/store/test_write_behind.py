"""The write-behind queue under the audit and plan views: batches, flush, close, and a failing write."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import pytest

from fhir_bonemet.store.write_behind import WriteBehind


def test_items_submitted_together_are_written_in_one_batch_and_flush_waits_for_them() -> None:
    batches: list[list[int]] = []
    writer: WriteBehind[int] = WriteBehind(lambda batch: batches.append(list(batch)), linger=30.0, name="t")
    for n in range(5):
        writer.submit(n)
    assert batches == []  # nothing before the linger, a flush or close
    writer.flush()
    assert batches == [[0, 1, 2, 3, 4]]
    writer.close()


def test_close_writes_what_is_queued_and_later_items_are_written_at_once_on_the_callers_thread() -> None:
    written: list[tuple[int, str]] = []

    def write(batch: Sequence[int]) -> None:
        written.extend((n, threading.current_thread().name) for n in batch)

    writer: WriteBehind[int] = WriteBehind(write, linger=30.0, name="behind")
    writer.submit(1)
    writer.close()
    writer.close()  # idempotent
    writer.submit(2)
    assert written == [(1, "behind"), (2, threading.current_thread().name)]


def test_a_write_that_raises_is_logged_by_class_and_the_writer_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    written: list[int] = []

    def write(batch: Sequence[int]) -> None:
        if 13 in batch:
            raise OSError("disk full at /secret/path")
        written.extend(batch)

    writer: WriteBehind[int] = WriteBehind(write, linger=0.01, name="audit")
    with caplog.at_level(logging.ERROR, logger="fhir_bonemet.store"):
        writer.submit(13)
        writer.flush()
        writer.submit(14)
        writer.flush()
    writer.close()
    assert written == [14]
    assert [r.message for r in caplog.records] == ["background write failed"]
    assert caplog.records[0].error_type == "OSError"  # type: ignore[attr-defined]
    assert "secret" not in caplog.text
