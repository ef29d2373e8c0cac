"""The composition root: settings parsed once, and the one place that knows every adapter.

``settings`` reads the environment (the only module that does); ``wiring`` builds the process's adapters
from settings; ``root`` keeps them for the process, lets tests and the dev host replace them, and builds the
port bundles the use cases take. May import everything in ``shared``; nothing but entry points (the HTTP layer,
triggers, ``function_app.py``) imports it.
"""
