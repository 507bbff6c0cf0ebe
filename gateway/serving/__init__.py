"""Production serving: precomputed container answers, the granian front end, metrics and the access log."""
