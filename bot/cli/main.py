"""`liaison-bot`: run the bot, the console, and the operator's tools. Every command takes --config."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:  # at run time bot.runtime.app is imported inside the commands that need it
    from bot.runtime.app import Runtime

DEFAULT_CONFIG = Path("config.toml")
EXAMPLE_CONFIG = Path("config.example.toml")


def _version() -> str:
    try:
        return version("liaison-bot")
    except PackageNotFoundError:
        return "unknown"


def resolve_config(given: Path | None) -> Path:
    if given is not None:
        return given
    if DEFAULT_CONFIG.exists() or not EXAMPLE_CONFIG.exists():
        return DEFAULT_CONFIG
    print(f"No {DEFAULT_CONFIG} here: using {EXAMPLE_CONFIG} (copy it to {DEFAULT_CONFIG} to make it yours).",
          file=sys.stderr)
    return EXAMPLE_CONFIG


def settings_from_args(args: argparse.Namespace) -> Settings:
    path = resolve_config(args.config)
    if not path.exists():
        raise SystemExit(f"{path}: no such configuration file (pass --config PATH, or copy {EXAMPLE_CONFIG}).")
    settings = load_settings(path)
    from bot.ops.logs import configure_logging, secret_values

    configure_logging(settings.logging, secret_values(settings))
    for warning in settings.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return settings


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    problems = settings.check_secrets()
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        return 1
    directory = settings.directory()
    from bot.runtime.seeded import warning_lines

    # Warnings, not errors (the file loads; the bot starts and sets these aside): a room or a contact
    # on a platform the file does not enable, which nothing could reach.
    for line in warning_lines(settings):
        print(f"warning: {line}", file=sys.stderr)
    print(f"{settings.given}: OK ({len(directory.organisations)} organisations, {len(directory.contacts)} contacts, "
          f"{len(directory.rooms)} rooms)")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    import getpass

    from bot.runtime.engine import engine_for
    from bot.runtime.keys import key_unkeyed_head
    from storage.migrate import current_revision, upgrade

    settings = settings_from_args(args)
    engine = engine_for(settings)
    try:
        upgrade(engine)
        print(f"Database at revision {current_revision(engine)}.")
        # A log from before heads were keyed: verified as it stands, then keyed (needs the key file).
        keyed = key_unkeyed_head(engine, settings.keys.path, settings.audit.witness_path,
                                 actor=f"cli:{getpass.getuser()}")
        if keyed is not None:
            print(f"Audit log verified and its head keyed at {keyed} entries: a later change without the key file "
                  "is detected.")
    finally:
        engine.dispose()
    return 0


def _enabled(settings: Settings) -> list[str]:
    sections = (("console", settings.console), ("matrix", settings.matrix), ("telegram", settings.telegram))
    return [name for name, section in sections if section.enabled]


def cmd_run(args: argparse.Namespace, console_only: bool = False) -> int:
    from bot.runtime.app import build_runtime
    from bot.runtime.serve import serve
    from bot.connectors.console_session import ConsoleSession, stdin_reader

    settings = settings_from_args(args)
    if console_only:
        settings = _with_console(settings)
    else:
        if not _enabled(settings):
            print(f"{settings.given}: no connector is enabled; enable [console], [matrix] or [telegram].",
                  file=sys.stderr)
            return 2
        problems = settings.check_secrets()
        if problems:
            for line in problems:
                print(line, file=sys.stderr)
            return 1
    runtime = build_runtime(settings)
    if not console_only:
        _attach_platforms(runtime, settings)
    from bot.runtime.seeded import set_aside_at_start

    set_aside_at_start(runtime)  # what no platform run reaches: logged, admins told; the start goes on
    session = None
    if settings.console.enabled:
        session = ConsoleSession(runtime.directory, runtime.submit, runtime.clock, sys.stdout, stdin_reader(),
                                 interactive=sys.stdin.isatty(), attachments=settings.attachments.policy())
    demoted = asyncio.run(serve(runtime, session, instance_lock=not console_only,
                                outlive_console=bool(runtime.receivers)))
    return 75 if demoted else 0  # EX_TEMPFAIL: the service manager restarts us as a standby


def _attach_platforms(runtime: Runtime, settings: Settings) -> None:
    from bot.runtime.app import add_receiver, vocabulary_for

    if settings.telegram.enabled:
        from bot.connectors.telegram import telegram_connector_for
        from bot.connectors.telegram.membership import TelegramRoomAdmin

        telegram = telegram_connector_for(runtime, vocabulary_for(settings))
        add_receiver(runtime, telegram)
        runtime.room_actions.add(TelegramRoomAdmin.for_connector(telegram))
    if settings.matrix.enabled:
        from bot.connectors.matrix.room_reports import attach_room_admin
        from bot.connectors.matrix.wiring import matrix_connector_for

        matrix = matrix_connector_for(runtime)
        add_receiver(runtime, matrix)
        attach_room_admin(runtime, matrix)  # room actions, the registered rooms' rosters, room safety


def _with_console(settings: Settings) -> Settings:
    """`liaison-bot console` runs the console alone, whatever the file enables."""
    from dataclasses import replace

    return replace(
        settings,
        console=replace(settings.console, enabled=True),
        matrix=replace(settings.matrix, enabled=False),
        telegram=replace(settings.telegram, enabled=False),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="liaison-bot", description=__doc__)
    parser.add_argument("--version", action="version", version=f"liaison-bot {_version()}")
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS on the subcommands' copy, so `liaison-bot --config X run` and `run --config X` both work.
    common.add_argument("--config", type=Path, default=argparse.SUPPRESS,
                        help=f"configuration file (default {DEFAULT_CONFIG}, falling back to {EXAMPLE_CONFIG})")
    parser.add_argument("--config", type=Path, default=None, help="configuration file (also after the command)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("run", parents=[common], help="run every connector the config enables").set_defaults(
        handler=cmd_run)
    commands.add_parser("console", parents=[common], help="act as any member in a console").set_defaults(
        handler=lambda a: cmd_run(a, console_only=True))
    commands.add_parser("check-config", parents=[common], help="validate the configuration").set_defaults(
        handler=cmd_check_config)
    db = commands.add_parser("db", help="database maintenance").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", parents=[common], help="apply migrations").set_defaults(handler=cmd_db_upgrade)
    _register_operator_tools(commands, common)
    return parser


def _register_operator_tools(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from bot.cli import audit as cli_audit
    from bot.cli import keys as cli_keys
    from bot.cli.context import context_loader

    loader = context_loader(settings_from_args)
    cli_keys.register(commands, loader, common)
    cli_audit.register(commands, loader, common)
    from bot.cli import member as cli_member
    from bot.cli import backup as cli_ops

    cli_ops.register(commands, settings_from_args, common)
    cli_member.register(commands, settings_from_args, common)


def main(argv: list[str] | None = None) -> int:
    from sqlalchemy.exc import OperationalError

    from bot.ops.leadership import InstanceActive
    from storage.audit.log import AuditHeadCorrupt
    from storage.db import DatabaseUnavailable
    from storage.keyring import KeyringError

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    # Expected conditions an operator can put right: one line each, never a traceback.
    except (KeyringError, AuditHeadCorrupt, DatabaseUnavailable, InstanceActive) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OperationalError as error:
        from bot.cli.context import database_problem

        print(f"error: {database_problem(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
