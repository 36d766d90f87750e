"""The dependencies routes declare: the settings, Temporal and the signed-in operator.

    async def page(settings: SettingsDep, temporal: TemporalDep, operator: Operator): ...

Temporal is connected on demand: `await temporal.client()` returns the app's client,
connecting it on first use (one connection per app, under a lock), or raises
`TemporalUnavailable`. Routes call it only once the request is known to be valid, so a
refused request never waits on, or fails for, Temporal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from temporalio.client import Client

from models.settings import Settings
from starters.web.operators import require_operator
from workers.client import connect


class TemporalUnavailable(RuntimeError):
    """Temporal cannot be reached right now."""


def app_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(app_settings)]


async def connect_temporal(app: FastAPI) -> Client:
    """The app's Temporal client, connected on first use; `TemporalUnavailable` if not."""
    if app.state.temporal is not None:
        client: Client = app.state.temporal
        return client
    async with app.state.connect_lock:
        if app.state.temporal is None:
            try:
                app.state.temporal = await connect(app.state.settings)
            except Exception as exc:  # connection errors surface as RuntimeError
                raise TemporalUnavailable(str(exc)) from exc
    client = app.state.temporal
    return client


@dataclass(frozen=True)
class TemporalConnection:
    """Temporal as a route sees it: connected when the route first needs it."""

    app: FastAPI

    async def client(self) -> Client:
        """The connected client; `TemporalUnavailable` when Temporal cannot be reached."""
        return await connect_temporal(self.app)


def temporal_connection(request: Request) -> TemporalConnection:
    return TemporalConnection(request.app)


TemporalDep = Annotated[TemporalConnection, Depends(temporal_connection)]


def signed_in_operator(request: Request, settings: SettingsDep) -> str:
    """The signed-in operator's name; `LoginRequired` (login redirect or 401) otherwise."""
    return require_operator(request, settings)


Operator = Annotated[str, Depends(signed_in_operator)]
