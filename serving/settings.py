"""Settings of the eligo service, read from `ELIGO_*` environment variables (pydantic-settings).

List settings accept JSON (`ELIGO_API_KEYS='["k1","k2"]'`) or comma-separated text
(`ELIGO_API_KEYS=k1,k2`). Endpoints get them through the cached `get_settings()` dependency,
which tests override (`app.dependency_overrides[get_settings] = ...`) or bypass by passing a
`Settings` to `create_app`.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from eligo.serving.records import MAX_CHARS

#: the `model` setting that selects the lexicon-only pipeline (no transformer).
NO_MODEL = "none"


class Settings(BaseSettings):
    """What a deployment configures; every field maps to `ELIGO_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="ELIGO_", frozen=True, extra="ignore")

    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        repr=False,  # never print keys
        description="accepted API keys (X-API-Key or Authorization: Bearer); empty: no auth",
    )
    max_document_chars: int = Field(
        default=MAX_CHARS, gt=0, description="largest document accepted (characters); 413 past it"
    )
    max_batch: int = Field(default=64, gt=0, description="most documents in one batch request")
    max_request_bytes: int = Field(
        default=32 * 1024 * 1024,
        gt=0,
        description="largest request body (bytes), checked before the body is read; 413 past it",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="origins allowed by CORS; empty: no CORS headers"
    )
    meddra_path: str | None = Field(
        default=None, description="a licensed MedDRA ASCII release for /v1/ae/code"
    )
    model: str = Field(
        default="default",
        description='NER model: "default" (the shipped one, when there is one), "none" '
        "(lexicon-only), or a model folder",
    )
    ort_threads: int = Field(
        default=0, ge=0, description="ONNX Runtime intra-op threads (0: runtime default)"
    )
    microbatch_docs: int = Field(
        default=1,
        ge=1,
        description="with the NER model: run up to this many documents of concurrent "
        "/v1/extract requests through the pipeline together (1: off, the default: on 2 cores "
        "with the load generator beside the server it measured no gain; see README)",
    )
    microbatch_ms: float = Field(
        default=5.0,
        ge=0,
        le=1000,
        description="how long the micro-batcher waits for more documents (milliseconds)",
    )
    rate_limit: float = Field(
        default=0,
        ge=0,
        description="requests per second allowed to each client (its API key, else its "
        "address) on /v1, per worker process; past it 429 with Retry-After. 0: no limit",
    )
    rate_limit_burst: int | None = Field(
        default=None,
        gt=0,
        description="requests a client may send at once before the rate applies; default: one "
        "second's worth (at least 1)",
    )

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        """JSON list or comma-separated text (from the environment) -> list of strings."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("api_keys")
    @classmethod
    def _no_blank_keys(cls, keys: list[str]) -> list[str]:
        if any(not key.strip() for key in keys):
            raise ValueError("API keys must not be blank")
        return keys

    @property
    def rate_limit_burst_size(self) -> int:
        """The token bucket's size: `rate_limit_burst`, else one second's worth (at least 1)."""
        if self.rate_limit_burst is not None:
            return self.rate_limit_burst
        return max(1, math.ceil(self.rate_limit))

    @property
    def pipeline_model(self) -> str | None:
        """The `model` argument of `eligo.nlp.load`: None for the lexicon-only pipeline."""
        return None if self.model.strip().lower() == NO_MODEL else self.model


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once from the environment (a FastAPI dependency)."""
    return Settings()
