"""Plan views kept off the request path: a retried hook call learns a view's expiry, pending or written,
without the view being rendered or read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fhir_bonemet.store.base import Store
from fhir_bonemet.store.plan_views import PlanViews

NOW = datetime.now(UTC).replace(microsecond=0)


def test_the_expiry_of_a_pending_view_is_known_before_it_is_rendered(store: Store) -> None:
    renders: list[int] = []

    def render() -> str:
        renders.append(1)
        return '{"tier": "low"}'

    views = PlanViews(store, linger=60.0)  # the writer waits: the view stays pending
    try:
        views.plan_put("plan-1", "pk-1", render, NOW + timedelta(hours=1))
        assert views.plan_expiry("plan-1", NOW) == ("pk-1", NOW + timedelta(hours=1))
        assert views.plan_expiry("plan-1", NOW + timedelta(hours=1)) is None
        assert renders == []
    finally:
        views.close()
    assert renders == [1]  # written at close, rendered once
    assert store.plan_expiry("plan-1", NOW) == ("pk-1", NOW + timedelta(hours=1))


def test_a_written_view_answers_from_the_store(store: Store) -> None:
    views = PlanViews(store, linger=0.0)
    try:
        views.plan_put("plan-2", "pk-2", lambda: "{}", NOW + timedelta(hours=2))
        views.flush()
        assert views.plan_expiry("plan-2", NOW) == ("pk-2", NOW + timedelta(hours=2))
        assert views.plan_expiry("plan-3", NOW) is None
    finally:
        views.close()
