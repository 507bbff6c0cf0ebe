"""Production serving: precomputed container answers, uvicorn with a protocol-level container fast path, metrics and the access log."""
