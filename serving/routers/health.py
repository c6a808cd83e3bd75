"""`GET /health` (liveness), `GET /ready` (pipeline loaded), `GET /metrics` (Prometheus)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from eligo.serving.routers.deps import ErrorResponse, Service, get_service, ready_service

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    pipeline: list[str]
    meddra: bool
    provenance: dict[str, Any]


@router.get("/health", response_model=Health, summary="Liveness: the process answers")
async def health() -> Health:
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Ready,
    summary="Readiness: the pipeline is loaded",
    responses={503: {"model": ErrorResponse, "description": "still loading, or failed to load"}},
)
async def ready(service: Annotated[Service, Depends(ready_service)]) -> Ready:
    assert service.nlp is not None
    return Ready(
        status="ready",
        pipeline=list(service.nlp.pipe_names),
        meddra=service.meddra is not None,
        provenance=service.provenance,
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "text exposition"}},
)
async def metrics(service: Annotated[Service, Depends(get_service)]) -> Response:
    return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)
