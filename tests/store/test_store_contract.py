"""The Store contract, run against every backend (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import cast

import pytest
from store_helpers import StoreFactory

from fhir_bonemet.store.base import (
    FeedbackItem,
    IssuedCall,
    IssuedCard,
    PlanViewToStore,
    Store,
    StoreError,
    utc_now,
)
from fhir_bonemet.store.sql import SqlStore

T0 = datetime(2026, 3, 31, 14, 7, 12, 345000, tzinfo=UTC)


def accepted(card: str = "card-1", *suggestions: str, at: datetime = T0) -> FeedbackItem:
    return FeedbackItem(
        card_uuid=card,
        outcome="accepted",
        outcome_timestamp=at,
        accepted_suggestion_ids=suggestions or ("s-1",),
    )


def overridden(card: str = "card-2", at: datetime = T0) -> FeedbackItem:
    return FeedbackItem(
        card_uuid=card,
        outcome="overridden",
        outcome_timestamp=at,
        override_reason_code="12354",
        override_reason_system="http://example.org/cds-services/fhir/CodeSystem/override-reasons",
        override_reason_display="Contraindicated",
        override_user_comment="Patient already reviewed by the spine team.",
    )


def _key_before_reasons(service_id: str, item: FeedbackItem) -> str:
    """The feedback key an earlier version stored (without override reason and comment)."""
    parts = [
        service_id,
        item.card_uuid,
        item.outcome,
        item.outcome_timestamp.astimezone(UTC).isoformat(timespec="microseconds"),
        *sorted(item.accepted_suggestion_ids),
    ]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


class TestHealth:
    def test_ping_succeeds_on_an_open_store(self, store: Store) -> None:
        store.ping()

    def test_ping_raises_store_error_once_closed(self, make_store: StoreFactory) -> None:
        store = make_store()
        store.close()
        with pytest.raises(StoreError):
            store.ping()


class TestFeedback:
    def test_every_field_round_trips(self, store: Store) -> None:
        items = [accepted("card-1", "s-1", "s-2"), overridden()]
        assert store.save_feedback("bonemet-patient-view", items) == 2
        stored = store.list_feedback()
        assert [entry.item for entry in stored] == items
        assert {entry.service_id for entry in stored} == {"bonemet-patient-view"}
        for entry in stored:
            assert entry.item.outcome_timestamp.tzinfo is not None
            assert entry.received_at.tzinfo is not None
            assert abs(datetime.now(UTC) - entry.received_at) < timedelta(minutes=5)

    def test_the_same_feedback_twice_is_stored_once(self, store: Store) -> None:
        item = accepted("card-1", "s-1")
        assert store.save_feedback("svc", [item]) == 1
        assert store.save_feedback("svc", [item]) == 0
        assert len(store.list_feedback()) == 1

    def test_repeat_detection_ignores_suggestion_order_and_offset_notation(self, store: Store) -> None:
        store.save_feedback("svc", [accepted("card-1", "s-1", "s-2")])
        same_instant = T0.astimezone(timezone(timedelta(hours=2)))
        assert store.save_feedback("svc", [accepted("card-1", "s-2", "s-1", at=same_instant)]) == 0

    def test_distinct_actions_on_one_card_are_all_kept(self, store: Store) -> None:
        later = T0 + timedelta(seconds=30)
        new = store.save_feedback(
            "svc", [accepted("card-1", "s-1"), accepted("card-1", "s-1", at=later), overridden("card-1")]
        )
        assert new == 3
        assert store.save_feedback("other-svc", [accepted("card-1", "s-1")]) == 1

    def test_overrides_at_one_instant_with_different_reasons_are_all_kept(self, store: Store) -> None:
        """What the clinician said is part of the feedback: a retry of the same override is dropped, but a
        second override of the card at the same instant saying something else is kept."""
        first = overridden("card-1")
        other_reason = replace(first, override_reason_code="other", override_reason_display="Other")
        other_comment = replace(first, override_user_comment="Seen by the palliative team.")
        no_comment = replace(first, override_user_comment=None)
        empty_comment = replace(first, override_user_comment="")
        assert store.save_feedback("svc", [first, first]) == 1
        assert store.save_feedback("svc", [first]) == 0
        assert store.save_feedback("svc", [other_reason, other_comment, no_comment, empty_comment]) == 4
        assert store.save_feedback("svc", [other_reason, other_comment, no_comment, empty_comment]) == 0
        assert [e.item for e in store.list_feedback()] == [
            first,
            other_reason,
            other_comment,
            no_comment,
            empty_comment,
        ]

    def test_a_database_from_before_reason_keyed_feedback_still_drops_retries(
        self, make_store: StoreFactory
    ) -> None:
        """Rows stored under the earlier key (without the reason) are rekeyed once, when the store opens: a
        retry of feedback stored before the upgrade is still a repeat, and a new reason is still kept."""
        old = make_store()
        assert old.save_feedback("svc", [overridden("card-1"), accepted("card-2")]) == 2
        sql_store = cast("SqlStore", old)
        sql_store._run(
            "UPDATE feedback SET key = ? WHERE card_uuid = ?",
            (_key_before_reasons("svc", overridden("card-1")), "card-1"),
        )
        sql_store._run("DELETE FROM store_migrations")  # as an earlier version left it
        old.close()
        store = make_store()
        assert store.save_feedback("svc", [overridden("card-1"), accepted("card-2")]) == 0
        assert store.save_feedback("svc", [replace(overridden("card-1"), override_user_comment="Other")]) == 1
        store.close()
        assert len(make_store().list_feedback()) == 3  # and reopening again changes nothing

    def test_a_batch_with_repeats_counts_only_new_items(self, store: Store) -> None:
        store.save_feedback("svc", [accepted("card-1")])
        assert store.save_feedback("svc", [accepted("card-1"), overridden("card-9")]) == 1

    def test_filters_order_and_limit(self, store: Store) -> None:
        store.save_feedback("a", [accepted("card-1"), overridden("card-2")])
        store.save_feedback("b", [overridden("card-3")])
        assert [e.item.card_uuid for e in store.list_feedback()] == ["card-1", "card-2", "card-3"]
        assert [e.item.card_uuid for e in store.list_feedback(service_id="a")] == ["card-1", "card-2"]
        assert [e.item.card_uuid for e in store.list_feedback(card_uuid="card-3")] == ["card-3"]
        assert [e.item.card_uuid for e in store.list_feedback(limit=1)] == ["card-1"]

    def test_naive_timestamps_are_refused(self, store: Store) -> None:
        naive = FeedbackItem(card_uuid="c", outcome="overridden", outcome_timestamp=datetime(2026, 1, 1))
        with pytest.raises(ValueError, match="timezone-aware"):
            store.save_feedback("svc", [naive])

    def test_concurrent_writers_store_each_item_once(self, store: Store) -> None:
        items = [overridden(f"card-{n}") for n in range(20)]
        counts: list[int] = []

        def write() -> None:
            counts.append(store.save_feedback("svc", items))

        threads = [threading.Thread(target=write) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(counts) == 20
        assert len(store.list_feedback()) == 20

    def test_feedback_survives_reopening_the_store(self, make_store: StoreFactory) -> None:
        first = make_store()
        first.save_feedback("svc", [overridden()])
        first.close()
        assert [e.item for e in make_store().list_feedback()] == [overridden()]


class TestIssuedCards:
    def test_issued_cards_round_trip_and_are_idempotent_per_hook_instance(self, store: Store) -> None:
        cards = [
            IssuedCard(
                uuid="card-1", rule_ids=("R01", "R03"), indicator="critical", suggestion_uuids=("s-1",)
            ),
            IssuedCard(uuid="card-2", rule_ids=(), indicator="info"),
        ]
        store.record_issued_cards("bonemet-patient-view", "patient-view", "hook-1", cards)
        store.record_issued_cards("bonemet-patient-view", "patient-view", "hook-1", cards)
        store.record_issued_cards("bonemet-order-sign", "order-sign", "hook-2", cards[:1])
        rows = store.issued_cards()
        assert [(r.hook_instance, r.card) for r in rows] == [
            ("hook-1", cards[0]),
            ("hook-1", cards[1]),
            ("hook-2", cards[0]),
        ]
        assert rows[0].service_id == "bonemet-patient-view"
        assert rows[0].hook == "patient-view"
        assert rows[0].issued_at.tzinfo is not None

    def test_a_batch_of_answers_is_recorded_in_order_and_a_repeat_within_it_once(self, store: Store) -> None:
        calls = [
            IssuedCall("svc", "patient-view", f"hook-{n}", (IssuedCard(f"card-{n}", ("R01",), "critical"),))
            for n in range(250)  # more rows than one statement carries
        ]
        store.record_issued_batch([*calls, calls[7]])  # a retried answer in the same batch
        rows = store.issued_cards()
        assert [(r.hook_instance, r.card) for r in rows] == [(c.hook_instance, c.cards[0]) for c in calls]

    def test_filters(self, store: Store) -> None:
        card = IssuedCard(uuid="card-1", rule_ids=("P14",), indicator="warning")
        store.record_issued_cards("a", "order-sign", "h1", [card])
        store.record_issued_cards("b", "order-select", "h2", [IssuedCard("card-2", ("P15",), "warning")])
        assert [r.card.uuid for r in store.issued_cards(service_id="b")] == ["card-2"]
        assert [r.card.uuid for r in store.issued_cards(hook_instance="h1")] == ["card-1"]
        assert [r.hook_instance for r in store.issued_cards(card_uuid="card-1")] == ["h1"]


class TestOutbox:
    def put(self, store: Store, key: str = "k1") -> bool:
        return store.outbox_put(
            key,
            "https://fhir.example.org/r4",
            "CarePlan",
            "identifier=urn:x|1",
            '{"resourceType":"CarePlan"}',
        )

    def test_a_key_is_queued_once(self, store: Store) -> None:
        assert self.put(store) is True
        assert self.put(store) is False
        [item] = store.outbox_list()
        assert (item.key, item.status, item.attempts, item.resource_type) == ("k1", "pending", 0, "CarePlan")
        assert item.if_none_exist == "identifier=urn:x|1"
        assert item.body_json == '{"resourceType":"CarePlan"}'
        assert item.fhir_base == "https://fhir.example.org/r4"

    def test_due_items_come_oldest_first_within_the_limit(self, store: Store) -> None:
        for key in ("k1", "k2", "k3"):
            self.put(store, key)
        assert [i.key for i in store.outbox_due(datetime.now(UTC), limit=2)] == ["k1", "k2"]

    def test_a_failed_attempt_waits_for_its_retry_time(self, store: Store) -> None:
        self.put(store)
        now = datetime.now(UTC)
        store.outbox_mark_failed("k1", "HTTP 503 from the FHIR server", now + timedelta(minutes=5))
        assert store.outbox_due(now, 10) == []
        [due] = store.outbox_due(now + timedelta(minutes=6), 10)
        assert (due.status, due.attempts, due.last_error) == ("pending", 1, "HTTP 503 from the FHIR server")
        assert due.next_attempt_at is not None
        assert due.next_attempt_at > now

    def test_giving_up_marks_failed_and_never_due_again(self, store: Store) -> None:
        self.put(store)
        store.outbox_mark_failed("k1", "HTTP 400", None)
        assert store.outbox_due(datetime.now(UTC) + timedelta(days=365), 10) == []
        [item] = store.outbox_list(status="failed")
        assert (item.attempts, item.last_error, item.next_attempt_at) == (1, "HTTP 400", None)

    def test_done_items_keep_their_location_and_cannot_be_queued_again(self, store: Store) -> None:
        self.put(store)
        store.outbox_mark_done("k1", "CarePlan/123/_history/1")
        [item] = store.outbox_list(status="done")
        assert item.location == "CarePlan/123/_history/1"
        assert item.updated_at >= item.created_at
        assert store.outbox_due(datetime.now(UTC), 10) == []
        assert self.put(store) is False

    def test_status_filter(self, store: Store) -> None:
        self.put(store, "k1")
        self.put(store, "k2")
        store.outbox_mark_done("k2", None)
        assert [i.key for i in store.outbox_list(status="pending")] == ["k1"]
        assert [i.key for i in store.outbox_list()] == ["k1", "k2"]
        with pytest.raises(ValueError, match="outbox status"):
            store.outbox_list(status="lost")  # type: ignore[arg-type]

    def test_one_item_is_read_by_its_key(self, store: Store) -> None:
        self.put(store, "k1")
        self.put(store, "k2")
        store.outbox_mark_done("k2", "CarePlan/9")
        item = store.outbox_get("k2")
        assert item is not None
        assert (item.key, item.status, item.location) == ("k2", "done", "CarePlan/9")
        assert store.outbox_get("absent") is None

    def test_make_due_brings_waiting_items_forward_without_counting_an_attempt(self, store: Store) -> None:
        now = datetime.now(UTC)
        for key in ("waiting", "failed"):
            self.put(store, key)
        store.outbox_mark_failed("waiting", "HTTP 503", now + timedelta(hours=1))
        store.outbox_mark_failed("failed", "HTTP 400", None)
        assert store.outbox_due(now, 10) == []
        assert store.outbox_make_due(now) == 1
        [due] = store.outbox_due(now, 10)
        assert (due.key, due.attempts) == ("waiting", 1)

    def test_pruning_removes_only_old_done_items(self, store: Store) -> None:
        for key in ("pending", "failed", "done"):
            self.put(store, key)
        store.outbox_mark_failed("failed", "HTTP 400", None)
        store.outbox_mark_done("done", None)
        assert store.outbox_prune_done(datetime.now(UTC) - timedelta(days=1)) == 0
        assert store.outbox_prune_done(datetime.now(UTC) + timedelta(seconds=1)) == 1
        assert [i.key for i in store.outbox_list()] == ["pending", "failed"]

    def test_an_item_in_flight_is_claimed_only_after_its_lease(self, store: Store) -> None:
        now = datetime.now(UTC)
        lease = now + timedelta(seconds=8)
        assert store.outbox_put("k1", "https://f.example", "CarePlan", None, "{}", in_flight_until=lease)
        assert store.outbox_claim(now, now + timedelta(seconds=20), 10) == []
        [claimed] = store.outbox_claim(now + timedelta(seconds=9), now + timedelta(seconds=20), 10)
        assert (claimed.key, claimed.status, claimed.attempts) == ("k1", "pending", 0)
        assert claimed.next_attempt_at == now + timedelta(seconds=20)

    def test_a_claimed_item_is_hidden_from_other_claims_until_its_lease_runs_out(self, store: Store) -> None:
        for key in ("k1", "k2"):
            self.put(store, key)
        now = datetime.now(UTC)
        lease = now + timedelta(seconds=30)
        assert [i.key for i in store.outbox_claim(now, lease, 1)] == ["k1"]
        assert [i.key for i in store.outbox_claim(now, lease, 5)] == ["k2"]
        assert store.outbox_claim(now, lease, 5) == []
        assert [i.key for i in store.outbox_claim(lease, lease + timedelta(seconds=30), 5)] == ["k1", "k2"]

    def test_concurrent_claims_from_several_connections_never_share_an_item(
        self, make_store: StoreFactory
    ) -> None:
        stores = [make_store() for _ in range(4)]
        for n in range(60):
            self.put(stores[0], f"k{n:02}")
        now = datetime.now(UTC)
        taken: list[str] = []
        lock = threading.Lock()
        barrier = threading.Barrier(len(stores))

        def claim_all(store: Store) -> None:
            barrier.wait()
            while claimed := store.outbox_claim(now, now + timedelta(minutes=1), 3):
                with lock:
                    taken.extend(i.key for i in claimed)

        threads = [threading.Thread(target=claim_all, args=(s,)) for s in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(taken) == [f"k{n:02}" for n in range(60)]  # each exactly once

    def test_a_refused_item_is_discarded(self, store: Store) -> None:
        self.put(store)
        store.outbox_discard("k1")
        assert store.outbox_list() == []
        assert self.put(store) is True

    def test_unknown_keys_are_reported(self, store: Store) -> None:
        with pytest.raises(KeyError):
            store.outbox_mark_done("missing", None)
        with pytest.raises(KeyError):
            store.outbox_mark_failed("missing", "x", None)


# Storing a plan purges rows expired by the wall clock, so these expiries lie in the future.
SOON = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)


class TestPlanViews:
    def test_a_plan_view_is_returned_until_it_expires(self, store: Store) -> None:
        store.plan_put("plan-1", "pk-1", '{"tier": "low"}', SOON + timedelta(hours=4))
        stored = store.plan_get("plan-1", SOON)
        assert stored is not None
        assert (stored.plan_id, stored.patient_key, stored.body_json) == ("plan-1", "pk-1", '{"tier": "low"}')
        assert stored.expires_at == SOON + timedelta(hours=4)
        assert store.plan_get("plan-1", SOON + timedelta(hours=4)) is None
        assert store.plan_get("plan-2", SOON) is None

    def test_a_view_put_as_utf8_bytes_is_given_back_as_the_same_text(self, store: Store) -> None:
        # The plan-view writer hands the store orjson's bytes; pages read text, beyond Latin-1 included.
        body = '{"value": "245 ×10⁹/L", "evidence": "Fisher 2010 · ESMO", "dose": "25 µg/h"}'
        store.plan_put_many([PlanViewToStore("plan-1", "pk-1", body.encode(), SOON + timedelta(hours=4))])
        stored = store.plan_get("plan-1", SOON)
        assert stored is not None
        assert stored.body_json == body

    def test_the_expiry_is_read_without_the_view(self, store: Store) -> None:
        store.plan_put("plan-1", "pk-1", '{"tier": "low"}', SOON + timedelta(hours=4))
        assert store.plan_expiry("plan-1", SOON) == ("pk-1", SOON + timedelta(hours=4))
        assert store.plan_expiry("plan-1", SOON + timedelta(hours=4)) is None
        assert store.plan_expiry("plan-2", SOON) is None

    def test_putting_again_replaces_the_view(self, store: Store) -> None:
        store.plan_put("plan-1", "pk-1", "{}", SOON + timedelta(hours=1))
        store.plan_put("plan-1", "pk-1", '{"v": 2}', SOON + timedelta(hours=2))
        stored = store.plan_get("plan-1", SOON + timedelta(minutes=90))
        assert stored is not None
        assert stored.body_json == '{"v": 2}'

    def test_expired_views_are_purged(self, store: Store) -> None:
        store.plan_put("old", "pk", "{}", SOON)
        store.plan_put("new", "pk", "{}", SOON + timedelta(days=1))
        assert store.plan_purge(SOON + timedelta(seconds=1)) == 1
        assert store.plan_get("new", SOON) is not None
        assert store.plan_get("old", SOON - timedelta(days=1)) is None  # gone, not merely hidden

    def test_putting_a_view_purges_the_expired_ones(self, store: Store) -> None:
        # Rows already expired by the wall clock go when the next plan is stored.
        store.plan_put("stale", "pk", "{}", datetime(2000, 1, 1, tzinfo=UTC))
        store.plan_put("fresh", "pk", "{}", datetime.now(UTC) + timedelta(hours=1))
        assert store.plan_get("stale", datetime(1999, 1, 1, tzinfo=UTC)) is None

    def test_many_views_are_put_at_once_and_of_two_with_one_id_the_later_wins(self, store: Store) -> None:
        views = [
            PlanViewToStore(f"plan-{n}", "pk", f'{{"n": {n}}}', SOON + timedelta(hours=1)) for n in range(150)
        ]
        later = PlanViewToStore("plan-3", "pk", '{"n": "again"}', SOON + timedelta(hours=2))
        store.plan_put_many([*views, later])
        assert [store.plan_get(f"plan-{n}", SOON) is not None for n in range(150)] == [True] * 150
        stored = store.plan_get("plan-3", SOON + timedelta(minutes=90))
        assert stored is not None
        assert stored.body_json == '{"n": "again"}'

    def test_naive_expiry_is_rejected(self, store: Store) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            store.plan_put("p", "pk", "{}", datetime(2026, 1, 1))


class TestSeenTokens:
    """Replay protection: a JWT id is accepted once by every store that shares the database."""

    def test_a_token_id_is_remembered_once_per_issuer(self, store: Store) -> None:
        until = utc_now() + timedelta(minutes=5)
        assert store.remember_token("https://iss.example", "jti-1", until)
        assert not store.remember_token("https://iss.example", "jti-1", until)
        assert store.remember_token("https://other.example", "jti-1", until)

    def test_an_expired_token_id_may_be_recorded_again(self, store: Store) -> None:
        assert store.remember_token("iss", "jti-1", utc_now() - timedelta(seconds=1))
        assert store.remember_token("iss", "jti-1", utc_now() + timedelta(minutes=5))
        assert not store.remember_token("iss", "jti-1", utc_now() + timedelta(minutes=5))

    def test_purge_forgets_only_expired_ids(self, store: Store) -> None:
        now = utc_now()
        store.remember_token("iss", "old", now - timedelta(seconds=1))
        store.remember_token("iss", "live", now + timedelta(minutes=5))
        assert store.purge_expired_tokens(now) == 1
        assert not store.remember_token("iss", "live", now + timedelta(minutes=5))

    def test_remembered_across_store_instances(self, make_store: StoreFactory) -> None:
        # Two instances on one database stand for two service processes (or a restart).
        first, second = make_store(), make_store()
        until = utc_now() + timedelta(minutes=5)
        assert first.remember_token("iss", "jti-1", until)
        assert not second.remember_token("iss", "jti-1", until)

    def test_concurrent_instances_accept_a_token_id_exactly_once(self, make_store: StoreFactory) -> None:
        stores = [make_store() for _ in range(4)]
        until = utc_now() + timedelta(minutes=5)
        results: list[bool] = []
        barrier = threading.Barrier(len(stores) * 3)

        def attempt(store: Store) -> None:
            barrier.wait()
            results.append(store.remember_token("iss", "raced", until))

        threads = [threading.Thread(target=attempt, args=(s,)) for s in stores for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [False] * 11 + [True]


def test_processes_starting_together_on_a_fresh_database_all_open_it(make_store: StoreFactory) -> None:
    """Workers and replicas start at the same moment on an empty database: every one of them must come up
    (on PostgreSQL, concurrent CREATE ... IF NOT EXISTS collides in the catalogue unless serialised)."""
    opened: list[Store] = []
    failures: list[BaseException] = []
    barrier = threading.Barrier(6)

    def start() -> None:
        barrier.wait()
        try:
            opened.append(make_store())
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(opened) == 6
    for store in opened:
        store.ping()
