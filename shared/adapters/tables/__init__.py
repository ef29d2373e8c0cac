"""Azure Tables adapters (azure.data.tables.aio) and the factory of the one TableServiceClient a process uses.

The adapters live in small siblings (``tables_installations``, ``tables_preferences``, ``tables_delivery``,
``tables_quarantine``, shared bits in ``tables_common``); import them from here.
"""

from __future__ import annotations

import urllib.request

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.pipeline.transport import AioHttpTransport
from azure.data.tables.aio import TableServiceClient
from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential

from shared.adapters.tables.campaigns import TableCampaignStore
from shared.adapters.tables.common import decode_key, encode_key
from shared.adapters.tables.delivery import TableDeliveryLog
from shared.adapters.tables.inbox import TableInboxStore
from shared.adapters.tables.installations import TableInstallationMirror
from shared.adapters.tables.ledger import TableDecisionLedger
from shared.adapters.tables.orders import TableOrderStore
from shared.adapters.tables.preferences import TablePreferencesStore
from shared.adapters.tables.quarantine import MAX_STORED_BODY_BYTES, TableQuarantineStore
from shared.adapters.tables.row_reader import TableRowReader
from shared.adapters.tables.row_writer import TableRowWriter
from shared.adapters.tables.secure_content import TableSecureContentStore
from shared.domain.errors import ConfigError

__all__ = [
    "MAX_STORED_BODY_BYTES",
    "TableCampaignStore",
    "TableDecisionLedger",
    "TableDeliveryLog",
    "TableInboxStore",
    "TableInstallationMirror",
    "TableOrderStore",
    "TablePreferencesStore",
    "TableQuarantineStore",
    "TableRowReader",
    "TableRowWriter",
    "TableSecureContentStore",
    "decode_key",
    "encode_key",
    "make_table_service_client",
]

# Bounded so that a Tables outage surfaces as UpstreamUnavailableError well within a Service Bus message lock
# (the SDK's own default retries up to 10 times with growing back-off).
_CONNECTION_TIMEOUT = 5
_READ_TIMEOUT = 20
_RETRY_TOTAL = 3
_RETRY_BACKOFF_MAX = 4


def _transport() -> AioHttpTransport:
    """The SDK's aiohttp transport, reading proxy settings from the environment only where some are set.

    With env settings on (the SDK's default), aiohttp looks up ~/.netrc and the proxy variables in a worker thread
    on every request: two thread hops and a file read per Tables call, measured at about a fifth of an unchanged
    refresh's CPU. Where the environment names a proxy, it is honoured as before.
    """
    return AioHttpTransport(
        connection_timeout=_CONNECTION_TIMEOUT,
        read_timeout=_READ_TIMEOUT,
        use_env_settings=bool(urllib.request.getproxies()),
    )


def make_table_service_client(
    endpoint: str | None, connection_string: str | None, credential_client_id: str | None
) -> TableServiceClient:
    """Build the process's TableServiceClient: from the connection string when given (Azurite, keys), else from
    ``endpoint`` with the managed identity (``credential_client_id`` picks a user-assigned one) or, without a
    client id, DefaultAzureCredential. Does no I/O.

    Raises ConfigError when neither a connection string nor an endpoint is given.
    """
    if connection_string:
        return TableServiceClient.from_connection_string(
            connection_string,
            transport=_transport(),
            retry_total=_RETRY_TOTAL,
            retry_backoff_max=_RETRY_BACKOFF_MAX,
        )
    if not endpoint:
        raise ConfigError("Tables need PUSH_TABLES_CONNECTION_STRING or PUSH_TABLES_ENDPOINT")
    credential: AsyncTokenCredential
    if credential_client_id:
        credential = ManagedIdentityCredential(client_id=credential_client_id)
    else:
        credential = DefaultAzureCredential()
    return TableServiceClient(
        endpoint,
        credential=credential,
        transport=_transport(),
        retry_total=_RETRY_TOTAL,
        retry_backoff_max=_RETRY_BACKOFF_MAX,
    )
