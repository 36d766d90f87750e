"""`GET /healthz`: the liveness check of the web service."""

from __future__ import annotations

from fastapi import APIRouter, Request

router = APIRouter()


@router.get("/healthz")
async def healthz(request: Request) -> dict[str, str]:
    """Liveness: the process answers; says whether Temporal is connected."""
    connected = request.app.state.temporal is not None
    return {"status": "ok", "temporal": "connected" if connected else "pending"}
