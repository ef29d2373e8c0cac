"""A local stand-in for Azure SignalR Service in Serverless mode: client negotiate, WebSockets with the JSON hub
protocol, JWT checks and the data-plane REST API (2022-06-01) the app uses. Microsoft's official
``@microsoft/signalr`` client connects to it unchanged. Never deployed (``.funcignore``)."""
