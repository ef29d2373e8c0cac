"""Enterprise Push application package: domain, services and adapters, importable without the Functions host."""
