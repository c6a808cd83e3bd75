"""The service's routers, one per resource (extract, ae, health)."""
