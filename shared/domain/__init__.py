"""Domain: the rules of the business, pure.

What may live here: LoB event parsing and the event catalog, the records the app keeps, delivery rules
(thresholds, quiet hours), the server-assigned tag scheme, languages, device templates, and the plan of what
one event becomes. Everything here is a function of its arguments: no I/O, no clock read, no SDK, no settings.
It may import the standard library, pydantic and Babel, other domain modules, and the pure parts of
``shared.notification_hubs`` (its models and tag grammar). It imports nothing from use cases, ports, adapters,
the HTTP layer or the composition root.
"""
