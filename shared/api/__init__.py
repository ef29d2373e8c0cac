"""The HTTP API layer: ApiRequest in, ApiResponse out; ``function_app.py`` maps them to azure.functions.

What may live here: request parsing and the pydantic request models, identity from headers, problem+json,
the OpenAPI document, and one module of route handlers per area that turns a request into a use case's
command, calls it with ports from the composition root, and renders the result. May import the composition
root, use cases, ports and the domain; no SDK, and no business rule (those are use cases or domain).
"""
