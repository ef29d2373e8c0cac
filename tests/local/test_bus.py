"""The local Service Bus: fan-out, filters, peek-lock, redelivery, dead-lettering, TTL, duplicates, persistence."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from local.bus import LockLostError, parse_topology
from local.bus.sql_filter import compile_sql
from local.bus.topology import load_topology, parse_duration
from shared.domain.errors import ConfigError, NotFoundError, UpstreamError
from tests.local.bus_support import FakeClock, message, open_bus, topology

pytestmark = pytest.mark.local

TEST_TOPOLOGY = Path(__file__).resolve().parent / "devhost_fixtures" / "servicebus-topology.json"


class TestTopology:
    def test_reads_the_fixture_topology_with_a_push_subscription_per_topic(self) -> None:
        topo = load_topology(TEST_TOPOLOGY)
        assert [t.name for t in topo.topics] == ["hr", "finance", "accounts", "orders"]
        assert all(t.subscription("push").max_delivery_count >= 1 for t in topo.topics)

    def test_parses_iso_durations(self) -> None:
        assert parse_duration("PT1M") == timedelta(minutes=1)
        assert parse_duration("P1DT2H3M4.5S") == timedelta(days=1, hours=2, minutes=3, seconds=4.5)

    def test_refuses_rule_actions_when_loading(self) -> None:
        rule = {
            "Name": "r",
            "Properties": {
                "FilterType": "Sql",
                "SqlFilter": {"SqlExpression": "a = 'b'"},
                "Action": {"SqlExpression": "SET sys.To = 'x'"},
            },
        }
        with pytest.raises(ConfigError, match="action"):
            parse_topology(topology(rules={"push": [rule]}))

    def test_refuses_unsupported_sql_with_its_position(self) -> None:
        with pytest.raises(ConfigError, match="position"):
            compile_sql("amount + 1 > 5")

    def test_refuses_sessions(self) -> None:
        with pytest.raises(ConfigError, match="sessions"):
            parse_topology(topology(sub_props={"RequiresSession": True}))


class TestFilters:
    @pytest.mark.parametrize(
        ("expression", "expected"),
        [
            ("1=1", True),
            ("1=0", False),
            ("source = '/lob/orders'", True),
            ("sys.Label = 'orders.order.placed'", True),
            ("sys.label = 'other'", False),
            ("source = '/lob/orders' AND type = 'x'", False),
            ("source = 'nope' OR type = 'orders.order.placed'", True),
            ("type IN ('a', 'orders.order.placed')", True),
            ("type NOT IN ('a', 'b')", True),
            ("EXISTS(source)", True),
            ("EXISTS(missing)", False),
            ("missing = 'x'", False),
            ("NOT (missing = 'x')", False),
            ("missing IS NULL", True),
            ("source IS NOT NULL", True),
            ("type LIKE 'orders.%'", True),
            ("type NOT LIKE 'hr.%'", True),
            ("[source] <> '/lob/hr'", True),
            ("user.source = '/lob/orders'", True),
            ("sys.MessageId = 'it''s'", False),
        ],
    )
    def test_sql_filter_evaluates(self, expression: str, expected: bool) -> None:
        matches = compile_sql(expression)
        assert matches(message(source="/lob/orders", type="orders.order.placed")) is expected

    async def test_correlation_and_sql_rules_route_messages_to_matching_subscriptions(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        rules = {
            "push": [
                {
                    "Name": "c",
                    "Properties": {
                        "FilterType": "Correlation",
                        "CorrelationFilter": {"Properties": {"channel": "mobile"}},
                    },
                }
            ],
            "audit": [
                {
                    "Name": "s",
                    "Properties": {"FilterType": "Sql", "SqlFilter": {"SqlExpression": "sys.Label LIKE 'orders.%'"}},
                }
            ],
        }
        bus = open_bus(tmp_path, clock, topology(rules=rules))
        await bus.publish("orders", [message("a", channel="mobile"), message("b", subject="hr.x", channel="web")])
        push = await bus.receive("orders", "push")
        audit = await bus.receive("orders", "audit")
        assert push is not None
        assert push.message_id == "a"
        assert audit is not None
        assert audit.message_id == "a"
        assert await bus.receive("orders", "push") is None
        assert await bus.receive("orders", "audit") is None


class TestPeekLock:
    async def test_fans_out_one_copy_to_every_subscription(self, tmp_path: Path, clock: FakeClock) -> None:
        bus = open_bus(tmp_path, clock)
        await bus.publish("orders", [message("m1")])
        first = await bus.receive("orders", "push")
        second = await bus.receive("orders", "audit")
        assert first is not None
        assert second is not None
        assert (first.message_id, second.message_id) == ("m1", "m1")
        assert first.sequence_number == second.sequence_number
        assert first.body == second.body == b'{"id": "m1"}'
        assert first.delivery_count == 1

    async def test_locked_message_is_not_delivered_twice_and_complete_removes_it(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        bus = open_bus(tmp_path, clock)
        await bus.publish("orders", [message("m1")])
        received = await bus.receive("orders", "push")
        assert received is not None
        assert await bus.receive("orders", "push") is None
        await bus.complete(received.lock_token)
        clock.advance(60)
        assert await bus.receive("orders", "push") is None
        assert await bus.count_active("orders", "push") == 0

    async def test_abandon_redelivers_with_a_higher_delivery_count(self, tmp_path: Path, clock: FakeClock) -> None:
        bus = open_bus(tmp_path, clock)
        await bus.publish("orders", [message("m1")])
        first = await bus.receive("orders", "push")
        assert first is not None
        await bus.abandon(first.lock_token)
        again = await bus.receive("orders", "push")
        assert again is not None
        assert (again.message_id, again.delivery_count) == ("m1", 2)
        assert again.lock_token != first.lock_token

    async def test_dead_letters_after_max_delivery_count_with_the_reason(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        bus = open_bus(tmp_path, clock)
        await bus.publish("orders", [message("m1", source="/lob/orders")])
        for _ in range(3):
            received = await bus.receive("orders", "push")
            assert received is not None
            await bus.abandon(received.lock_token)
        assert await bus.receive("orders", "push") is None
        dead = await bus.list_dead_letters()
        assert len(dead) == 1
        assert dead[0].reason == "MaxDeliveryCountExceeded"
        assert dead[0].delivery_count == 3
        assert dead[0].id == f"orders/push/{received.sequence_number}"
        assert dead[0].application_properties == {"source": "/lob/orders"}

    async def test_expired_lock_redelivers_and_settling_with_it_fails(self, tmp_path: Path, clock: FakeClock) -> None:
        bus = open_bus(tmp_path, clock)
        await bus.publish("orders", [message("m1")])
        first = await bus.receive("orders", "push")
        assert first is not None
        clock.advance(31)
        again = await bus.receive("orders", "push")
        assert again is not None
        assert again.delivery_count == 2
        with pytest.raises(LockLostError):
            await bus.complete(first.lock_token)

    async def test_renewing_a_lock_keeps_the_message_locked(self, tmp_path: Path, clock: FakeClock) -> None:
        bus = open_bus(tmp_path, clock)
        await bus.publish("orders", [message("m1")])
        received = await bus.receive("orders", "push")
        assert received is not None
        clock.advance(20)
        await bus.renew_lock(received.lock_token)
        clock.advance(20)
        assert await bus.receive("orders", "push") is None
        await bus.complete(received.lock_token)

    async def test_lock_expiry_at_the_delivery_limit_dead_letters(self, tmp_path: Path, clock: FakeClock) -> None:
        bus = open_bus(tmp_path, clock)
        await bus.publish("orders", [message("m1")])
        for _ in range(3):
            assert await bus.receive("orders", "push") is not None
            clock.advance(31)
        assert await bus.receive("orders", "push") is None
        assert [d.reason for d in await bus.list_dead_letters()] == ["MaxDeliveryCountExceeded"]

    async def test_unknown_topic_is_an_upstream_error(self, tmp_path: Path, clock: FakeClock) -> None:
        bus = open_bus(tmp_path, clock)
        with pytest.raises(UpstreamError):
            await bus.publish("nope", [message()])

    async def test_receive_waits_for_a_message_published_meanwhile(self, tmp_path: Path, clock: FakeClock) -> None:
        import asyncio

        bus = open_bus(tmp_path, clock)
        waiting = asyncio.create_task(bus.receive("orders", "push", max_wait=5))
        await asyncio.sleep(0.05)
        await bus.publish("orders", [message("late")])
        received = await asyncio.wait_for(waiting, 2)
        assert received is not None
        assert received.message_id == "late"


class TestExpiryAndDuplicates:
    async def test_expired_message_is_dead_lettered_when_the_subscription_says_so(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        doc = topology(
            sub_props={"DefaultMessageTimeToLive": "PT10S", "DeadLetteringOnMessageExpiration": True},
            subscriptions=("push",),
        )
        bus = open_bus(tmp_path, clock, doc)
        await bus.publish("orders", [message("m1")])
        clock.advance(11)
        assert await bus.receive("orders", "push") is None
        assert [d.reason for d in await bus.list_dead_letters()] == ["TTLExpiredException"]

    async def test_expired_message_is_dropped_without_dead_lettering(self, tmp_path: Path, clock: FakeClock) -> None:
        bus = open_bus(tmp_path, clock, topology(topic_props={"DefaultMessageTimeToLive": "PT10S"}))
        await bus.send("orders", message("m1"), time_to_live=timedelta(seconds=5))
        clock.advance(6)
        assert await bus.receive("orders", "push") is None
        assert await bus.list_dead_letters() == []

    async def test_message_within_ttl_reports_its_expiry(self, tmp_path: Path, clock: FakeClock) -> None:
        bus = open_bus(tmp_path, clock, topology(topic_props={"DefaultMessageTimeToLive": "PT10S"}))
        await bus.publish("orders", [message("m1")])
        received = await bus.receive("orders", "push")
        assert received is not None
        assert received.time_to_live == timedelta(seconds=10)
        assert received.expires_at is not None
        assert received.expires_at > received.enqueued_time

    async def test_duplicate_message_id_is_dropped_within_the_window_only(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        doc = topology(
            topic_props={"RequiresDuplicateDetection": True, "DuplicateDetectionHistoryTimeWindow": "PT20S"},
            subscriptions=("push",),
        )
        bus = open_bus(tmp_path, clock, doc)
        assert await bus.send("orders", message("m1")) is True
        assert await bus.send("orders", message("m1")) is False
        clock.advance(21)
        assert await bus.send("orders", message("m1")) is True
        assert await bus.count_active("orders", "push") == 2

    async def test_same_message_id_is_kept_without_duplicate_detection(self, tmp_path: Path, clock: FakeClock) -> None:
        bus = open_bus(tmp_path, clock)
        await bus.publish("orders", [message("m1"), message("m1")])
        assert await bus.count_active("orders", "push") == 2


class TestPersistenceAndReplay:
    async def test_messages_and_locks_survive_reopening_and_in_flight_ones_come_back(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        bus = open_bus(tmp_path, clock)
        await bus.publish("orders", [message("m1"), message("m2")])
        in_flight = await bus.receive("orders", "push")
        assert in_flight is not None
        assert in_flight.message_id == "m1"
        bus.close()

        reopened = open_bus(tmp_path, clock)
        waiting = await reopened.receive("orders", "push")
        assert waiting is not None
        assert waiting.message_id == "m2"
        assert await reopened.receive("orders", "push") is None
        clock.advance(31)
        redelivered = await reopened.receive("orders", "push")
        assert redelivered is not None
        assert (redelivered.message_id, redelivered.delivery_count) == ("m1", 2)

    async def test_replay_republishes_to_the_topic_and_removes_the_dead_letter(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        bus = open_bus(tmp_path, clock, topology(subscriptions=("push",)))
        await bus.publish("orders", [message("m1", source="/lob/orders")])
        received = await bus.receive("orders", "push")
        assert received is not None
        await bus.dead_letter(received.lock_token, "Invalid", "no such event type")
        [dead] = await bus.list_dead_letters()
        assert (dead.reason, dead.description) == ("Invalid", "no such event type")

        replayed = await bus.replay(dead.id)

        assert replayed.message_id == "m1"
        assert await bus.list_dead_letters() == []
        again = await bus.receive("orders", "push")
        assert again is not None
        assert again.message_id.startswith("m1/replay-")
        assert (again.delivery_count, again.application_properties) == (1, {"source": "/lob/orders", "replayOf": "m1"})

    async def test_replay_of_an_unknown_dead_letter_is_not_found(self, tmp_path: Path, clock: FakeClock) -> None:
        bus = open_bus(tmp_path, clock)
        with pytest.raises(NotFoundError):
            await bus.replay("orders/push/999")
        with pytest.raises(NotFoundError):
            await bus.replay("garbage")

    async def test_replay_inside_the_duplicate_window_gets_a_fresh_message_id_and_is_delivered(
        self, tmp_path: Path, clock: FakeClock
    ) -> None:
        """Duplicate detection would drop the original id; the pipeline deduplicates on the event id instead."""
        doc = topology(
            topic_props={"RequiresDuplicateDetection": True, "DuplicateDetectionHistoryTimeWindow": "PT1M"},
            subscriptions=("push",),
        )
        bus = open_bus(tmp_path, clock, doc)
        await bus.publish("orders", [message("m1")])
        received = await bus.receive("orders", "push")
        assert received is not None
        await bus.dead_letter(received.lock_token, "Invalid")
        [dead] = await bus.list_dead_letters()
        await bus.replay(dead.id)
        assert await bus.list_dead_letters() == []
        again = await bus.receive("orders", "push")
        assert again is not None
        assert again.message_id.startswith("m1/replay-")
