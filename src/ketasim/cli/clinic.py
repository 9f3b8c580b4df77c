"""``ketasim clinic``: accounts, demo data, audit verification, backup and export."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ketasim.cli.common import fail, handle_errors

clinic_app = typer.Typer(
    help="Clinic administration: users, demo, audit, backup, export.", no_args_is_help=True
)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="SQLite data directory (default ~/.ketasim; DATABASE_URL overrides)"
    ),
]


def _app(data_dir: Path | None):  # type: ignore[no-untyped-def]
    from ketasim.clinic.app import create_app
    from ketasim.clinic.settings import Settings

    return create_app(Settings.from_env(data_dir=data_dir))


@clinic_app.command("create-user")
@handle_errors
def create_user_command(
    username: Annotated[str, typer.Option("--username", help="login name")] = "admin",
    role: Annotated[
        str, typer.Option("--role", help="admin, prescriber, nurse or auditor")
    ] = "admin",
    full_name: Annotated[str | None, typer.Option("--full-name")] = None,
    data_dir: DataDir = None,
) -> None:
    """Create an account; the password is read from KETASIM_PASSWORD or prompted for."""
    from ketasim.clinic.services.base import Actor, ServiceError
    from ketasim.clinic.services.users import create_user

    password = os.environ.get("KETASIM_PASSWORD") or getpass.getpass("password: ")
    app = _app(data_dir)
    try:
        with app.state.db.session() as s:
            u = create_user(
                s,
                Actor(None, "cli"),
                username=username,
                role=role,
                full_name=full_name or username,
                password=password,
            )
            print(f"ketasim: created user {u.username} ({u.role})", file=sys.stderr)
    except ServiceError as exc:
        raise fail(str(exc)) from None
    finally:
        app.state.db.dispose()


@clinic_app.command("demo")
@handle_errors
def demo_command(data_dir: DataDir = None) -> None:
    """Fill an empty database with a demo clinic (users, patients, plans, sessions, scores)."""
    from ketasim.clinic.demo import DEMO_PASSWORD, load_demo

    app = _app(data_dir)
    try:
        with app.state.db.session() as s:
            if not load_demo(s, if_empty=True):
                raise fail("the database is not empty; the demo loads into a fresh one")
    finally:
        app.state.db.dispose()
    print(
        f"ketasim: demo clinic loaded; users admin, prescriber, nurse, auditor; password "
        f"{DEMO_PASSWORD!r}",
        file=sys.stderr,
    )


@clinic_app.command("verify-audit")
@handle_errors
def verify_audit_command(data_dir: DataDir = None) -> None:
    """Recompute the audit hash chain; exit 1 naming the first tampered entry."""
    from ketasim.clinic.audit import verify_chain

    app = _app(data_dir)
    try:
        with app.state.db.session() as s:
            n, problems = verify_chain(s)
    finally:
        app.state.db.dispose()
    if problems:
        for p in problems:
            print(f"ketasim: audit: {p.message}", file=sys.stderr)
        raise typer.Exit(code=1)
    print(f"ketasim: audit chain intact ({n} entries)")


@clinic_app.command("backup")
@handle_errors
def backup_command(
    dest: Annotated[Path, typer.Argument(help="backup file to write")],
    data_dir: DataDir = None,
) -> None:
    """A consistent online backup (SQLite backup API; pg_dump for PostgreSQL)."""
    from ketasim.clinic.services.export import backup

    app = _app(data_dir)
    try:
        out = backup(app.state.settings, dest)
    finally:
        app.state.db.dispose()
    print(f"ketasim: wrote {out}", file=sys.stderr)


@clinic_app.command("export")
@handle_errors
def export_command(
    out_dir: Annotated[Path, typer.Argument(help="directory for one file per table")],
    fmt: Annotated[str, typer.Option("--format", help="csv or json")] = "csv",
    data_dir: DataDir = None,
) -> None:
    """Export every clinical table as CSV or JSON (password hashes excluded)."""
    from ketasim.clinic.services.export import export_tables

    if fmt not in ("csv", "json"):
        raise fail(f"--format: {fmt!r}; accepted csv, json")
    app = _app(data_dir)
    try:
        with app.state.db.session() as s:
            files = export_tables(s, out_dir, fmt)
    finally:
        app.state.db.dispose()
    print(f"ketasim: wrote {len(files)} files to {out_dir}", file=sys.stderr)


def register(root: typer.Typer) -> None:
    """Add ``ketasim clinic`` to the root app."""
    root.add_typer(clinic_app, name="clinic")
