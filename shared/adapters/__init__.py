"""I/O adapters: Notification Hubs, Azure Tables, Service Bus."""
