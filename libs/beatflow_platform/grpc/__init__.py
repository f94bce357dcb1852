"""gRPC plumbing shared by every service: the server host and the call interceptors."""
