"""``newsetl server status|stop``: the local Prefect server flow commands share."""

from __future__ import annotations

import time

import typer

from newsetl.cli.app import app, out, settings_for
from newsetl.cli.local_server import Paths, live_leases, prefect_home, read_state, stop_server

server_app = typer.Typer(
    name="server",
    help=(
        "The local Prefect server that flow commands start once and reuse "
        "(when PREFECT_API_URL is unset; NEWSETL_PREFECT_SERVER=temporary: one per command)."
    ),
    no_args_is_help=True,
)
app.add_typer(server_app)


@server_app.command("status")
def server_status() -> None:
    """Whether the local Prefect server runs, where, and for how long it stays idle.

    Example:  newsetl server status
    """
    paths = Paths(prefect_home())
    state = read_state(paths)
    prefs = settings_for().server
    if state is None:
        out.print(
            f"no local Prefect server running (state in {paths.home}); the next flow command starts "
            f"one [mode {prefs.prefect_server}]",
            highlight=False,
        )
        return
    up = time.time() - state.started_at
    out.print(
        f"local Prefect server: {state.url} (pid {state.pid}), up {up / 60:.1f} min, stops after "
        f"{state.idle_s / 60:g} min unused; {len(live_leases(paths))} command(s) using it; "
        f"state in {paths.home}",
        highlight=False,
    )


@server_app.command("stop")
def server_stop() -> None:
    """Stop the local Prefect server now (the next flow command starts a new one).

    Example:  newsetl server stop
    """
    state = stop_server(Paths(prefect_home()))
    if state is None:
        out.print("no local Prefect server was running")
    else:
        out.print(f"stopped the local Prefect server (pid {state.pid}, {state.url})", highlight=False)
