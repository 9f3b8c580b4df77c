"""``ketasim serve``: the clinic web app and REST API (SQLite under --data-dir, or
``DATABASE_URL`` for PostgreSQL), created and migrated on first start."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ketasim.cli.common import handle_errors


@handle_errors
def serve_command(
    host: Annotated[str, typer.Option("--host", help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port", min=1, max=65535)] = 8000,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="where the SQLite database lives (default ~/.ketasim)"),
    ] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="load the demo clinic into an empty database first")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            help="server processes (they share the login limit, the second-factor replay "
            "guard and the jobs through the database)",
            min=1,
            max=64,
        ),
    ] = 1,
) -> None:
    """Start the clinic web app and REST API (OpenAPI at /api/v1/openapi.json)."""
    import os

    import uvicorn

    from ketasim.clinic.app import create_app
    from ketasim.clinic.settings import Settings

    settings = Settings.from_env(data_dir=data_dir)
    app = create_app(settings)
    if demo:
        from ketasim.clinic.demo import load_demo

        with app.state.db.session() as s:
            made = load_demo(s, if_empty=True)
        if made:
            print(
                "ketasim: demo clinic loaded; log in as prescriber / nurse / admin / "
                "auditor with password 'demo-password'",
                file=sys.stderr,
            )
    where = settings.url if not settings.is_sqlite else settings.data_dir
    print(
        f"ketasim: clinic on http://{host}:{port}/ (records: {where}; "
        f"{workers} server process{'es' if workers > 1 else ''})",
        file=sys.stderr,
    )
    if workers == 1:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
        return
    # this process migrated the database and made its keys; each worker builds its own app
    app.state.db.dispose()
    os.environ["KETASIM_DATA_DIR"] = str(settings.data_dir)
    uvicorn.run(
        "ketasim.clinic.asgi:app_from_env",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
    )


def register(root: typer.Typer) -> None:
    """Add ``ketasim serve`` to the root app."""
    root.command("serve")(serve_command)
