"""HTTP route handlers: ApiRequest + Services in, ApiResponse out. function_app.py maps them to azure.functions."""
