"""What every BeatFlow service shares: settings, logging, errors, the gRPC host, storage and database access."""
