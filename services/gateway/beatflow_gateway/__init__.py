"""The public REST and WebSocket API over the gRPC services."""
