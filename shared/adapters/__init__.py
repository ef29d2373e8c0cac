"""Adapters: the ports implemented over real services (Azure Tables, Service Bus, Notification Hubs).

What may live here: one module or subpackage per technology, named after it, that implements a port from
``shared.ports``, maps the vendor's errors onto ``shared.domain.errors`` at its edge (``raise ... from exc``)
and converts vendor records to domain records; and decorators over ports (the delivery log's grouping).
May import SDKs, ``shared.notification_hubs``, ``shared.ports`` and the domain; never use cases, the HTTP layer
or the composition root, which is the only module that constructs adapters.
"""
