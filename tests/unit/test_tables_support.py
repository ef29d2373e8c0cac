"""Pure parts of the Tables adapters: key encoding, the quarantine row's size budget, the client factory."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from azure.data.tables.aio import TableServiceClient
from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.adapters.tables import MAX_STORED_BODY_BYTES, decode_key, encode_key, make_table_service_client
from shared.adapters.tables.common import TableSet
from shared.adapters.tables.quarantine import _to_entity
from shared.domain.errors import ConfigError
from shared.domain.records import QuarantinedMessage
from tests.support.azurite import connection_string

FORBIDDEN_IN_KEYS = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")


class TestKeys:
    @pytest.mark.parametrize("plain", ["alice", "user-1_a@b.c:d=e", "0f" * 32])
    def test_safe_ids_stay_as_they_are(self, plain: str) -> None:
        assert encode_key(plain) == plain

    @settings(max_examples=300, deadline=None)
    @given(st.text(max_size=120))
    def test_any_id_becomes_a_valid_key_and_comes_back(self, value: str) -> None:
        key = encode_key(value)

        assert key
        assert not FORBIDDEN_IN_KEYS.search(key)
        assert decode_key(key) == value

    @pytest.mark.parametrize("odd", ["", "~", "~YWxpY2U", "a/b", "\ud800 lone surrogate", "x" * 600])
    def test_edge_ids_become_valid_keys_and_come_back(self, odd: str) -> None:
        key = encode_key(odd)

        assert key.startswith("~")
        assert not FORBIDDEN_IN_KEYS.search(key)
        assert decode_key(key) == odd

    @settings(max_examples=300, deadline=None)
    @given(st.text(max_size=40), st.text(max_size=40))
    def test_different_ids_never_share_a_key(self, first: str, second: str) -> None:
        if first != second:
            assert encode_key(first) != encode_key(second)


class TestQuarantineRowSize:
    def test_the_largest_kept_body_fits_the_entity_and_property_limits(self) -> None:
        """Azure counts strings as UTF-16: 2 bytes a character; 64 KiB a property, 1 MiB an entity."""
        entity = _to_entity(
            QuarantinedMessage(
                id="q",
                topic="orders",
                subscription="push",
                message_id="m",
                reason="r" * 20_000,
                description="d" * 20_000,
                body=b"\xff" * (MAX_STORED_BODY_BYTES * 2),
                content_type="application/json",
                subject="s",
                application_properties={f"k{i}": "v" * 100 for i in range(200)},
                quarantined_at=datetime(2025, 1, 1, tzinfo=UTC),
            )
        )
        strings = {name: value for name, value in entity.items() if isinstance(value, str)}

        assert max(len(value) * 2 for value in strings.values()) <= 64 * 1024
        assert sum(len(name) * 2 + len(value) * 2 + 8 for name, value in strings.items()) < 1024 * 1024


class TestFactory:
    async def test_connection_string_wins_when_given(self) -> None:
        async with make_table_service_client("https://ignored", connection_string(10002), "id") as service:
            assert service.url.startswith("http://127.0.0.1:10002/devstoreaccount1")

    async def test_endpoint_uses_the_user_assigned_identity_when_a_client_id_is_given(self) -> None:
        service = make_table_service_client("https://acct.table.core.windows.net", None, "client-id")
        credential = service.credential
        await service.close()

        assert isinstance(credential, ManagedIdentityCredential)
        await credential.close()

    async def test_endpoint_falls_back_to_the_default_credential_without_a_client_id(self) -> None:
        service = make_table_service_client("https://acct.table.core.windows.net", None, None)
        credential = service.credential
        await service.close()

        assert isinstance(credential, DefaultAzureCredential)
        await credential.close()

    def test_raises_config_error_when_neither_is_given(self) -> None:
        with pytest.raises(ConfigError):
            make_table_service_client(None, None, None)


class TestTableSet:
    @pytest.mark.parametrize("prefix", ["1abc", "ab-c", "a" * 41])
    async def test_rejects_prefixes_that_make_invalid_table_names(self, prefix: str) -> None:
        async with TableServiceClient.from_connection_string(connection_string(10002)) as service:
            with pytest.raises(ValueError, match="table prefix"):
                TableSet(service, prefix)
