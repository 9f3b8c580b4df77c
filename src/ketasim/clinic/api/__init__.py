"""REST API under /api/v1 (FastAPI routers, typed Create/Update/Public schemas)."""
