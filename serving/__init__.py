"""eligo.serving: the CLI, and later the HTTP API and batch runner."""
