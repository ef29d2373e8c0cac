"""Use cases: one module per capability the app offers (register a device, deliver an event, ...).

Each takes a plain command object or domain value and the ports it needs as arguments, and returns a domain
result. It may import the domain and ``shared.ports``; it never imports an adapter, an SDK, the HTTP layer
(request models, headers, problem+json) or the composition root, and it catches only the app's own errors
(``shared.domain.errors``), never a vendor's.
"""
