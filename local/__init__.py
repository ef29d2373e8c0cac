"""Local-only tools: dev host, local bus, Notification Hubs emulator. Never deployed."""
