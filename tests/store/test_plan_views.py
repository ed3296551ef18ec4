"""Plan views kept off the request path: a retried hook call learns a view's expiry, pending or written,
without the view being rendered or read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fhir_bonemet.store.base import Store
from fhir_bonemet.store.plan_views import PlanViews

NOW = datetime.now(UTC).replace(microsecond=0)


class CountedRender:
    """A view's renderer that counts its calls."""

    def __init__(self, body: str) -> None:
        self.body = body
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return self.body


def test_the_expiry_of_a_pending_view_is_known_before_it_is_rendered(store: Store) -> None:
    render = CountedRender('{"tier": "low"}')

    views = PlanViews(store, linger=60.0)  # the writer waits: the view stays pending
    try:
        views.plan_put("plan-1", "pk-1", render, NOW + timedelta(hours=1))
        assert views.plan_expiry("plan-1", NOW) == ("pk-1", NOW + timedelta(hours=1))
        assert views.plan_expiry("plan-1", NOW + timedelta(hours=1)) is None
        assert render.calls == 0
    finally:
        views.close()
    assert render.calls == 1  # written at close, rendered once
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


def test_a_pending_view_opened_before_it_is_written_is_rendered_once(store: Store) -> None:
    render = CountedRender('{"tier": "high"}')

    views = PlanViews(store, linger=60.0)
    try:
        views.plan_put("plan-4", "pk-4", render, NOW + timedelta(hours=1))
        first, second = views.plan_get("plan-4", NOW), views.plan_get("plan-4", NOW)
        assert first is not None
        assert second is not None
        assert first.body_json == second.body_json == '{"tier": "high"}'
    finally:
        views.close()
    stored = store.plan_get("plan-4", NOW)
    assert stored is not None
    assert stored.body_json == '{"tier": "high"}'
    assert render.calls == 1  # opened twice and written: the same rendering each time


def test_a_view_rendered_as_bytes_is_read_as_text_pending_or_written(store: Store) -> None:
    body = '{"value": "245 ×10⁹/L"}'
    views = PlanViews(store, linger=60.0)
    try:
        views.plan_put("plan-5", "pk-5", body.encode, NOW + timedelta(hours=1))
        pending = views.plan_get("plan-5", NOW)
        assert pending is not None
        assert pending.body_json == body
    finally:
        views.close()
    stored = store.plan_get("plan-5", NOW)
    assert stored is not None
    assert stored.body_json == body


def test_a_view_its_caller_renders_is_written_as_rendered_not_rendered_again(store: Store) -> None:
    """The hook renders its plan view once the answer is sent (``HookDeps.after_sent``): the writer then
    only stores it."""
    render = CountedRender('{"tier": "moderate"}')

    views = PlanViews(store, linger=60.0)
    try:
        render_now = views.plan_put("plan-6", "pk-6", render, NOW + timedelta(hours=1))
        render_now()
        assert render.calls == 1
    finally:
        views.close()
    stored = store.plan_get("plan-6", NOW)
    assert stored is not None
    assert stored.body_json == '{"tier": "moderate"}'
    assert render.calls == 1
