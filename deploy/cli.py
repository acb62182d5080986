"""The ``chacra`` command: serve, load the demo, import CSV files, migrate, print the gateway config."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from deploy.memory import limit_malloc_arenas
from deploy.migrate import migrate_services
from deploy.topology import SERVICES, nginx_config
from shared.settings import Settings, get_settings

TARGETS = ["all", *(s.name for s in SERVICES)]


async def _load_demo(settings: Settings) -> list[Any] | None:
    from services.certification.demo import seed_demo_body
    from services.cooperatives.demo import DEMO_CERTIFYING_BODY_ID, load_demo
    from shared.db import Database

    await migrate_services(settings, [s.name for s in SERVICES])
    db = Database(settings.database_url_for("cooperatives"))
    try:
        async with db.transaction() as session:
            logins = await load_demo(session)
    finally:
        await db.dispose()
    if logins is not None:
        certification = Database(settings.database_url_for("certification"))
        try:
            async with certification.transaction() as session:
                await seed_demo_body(session, DEMO_CERTIFYING_BODY_ID)
        finally:
            await certification.dispose()
        await _load_ledger_demo(settings)
    return logins


async def _load_ledger_demo(settings: Settings) -> None:
    """The demo lots go in through the API of an in-process all-in-one app, as a user's would."""
    import httpx

    from deploy.allinone import create_allinone
    from services.certification.demo import load_certification_demo
    from services.cooperatives.demo import DEMO_CERTIFYING_BODY_ID, demo_logins
    from services.lots.demo import load_ledger_demo

    platform = create_allinone(settings)
    async with (
        platform.root.router.lifespan_context(platform.root),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=platform), base_url="http://demo") as client,
    ):
        await load_ledger_demo(client)
        passwords = {login.username: login.password for login in demo_logins([])}
        await load_certification_demo(
            client,
            body_id=DEMO_CERTIFYING_BODY_ID,
            admin=("admin", passwords["admin"]),
            certifier=("certificador", passwords["certificador"]),
        )


def _print_logins(logins: list[Any] | None, base: str) -> None:
    from services.cooperatives.demo import demo_logins

    if logins is None:
        print("Demo data already loaded.")
        logins = demo_logins([("", "one of the first DEMO cooperatives")] * 6)
    else:
        print("Loaded the demo: 126 DEMO producer associations with their farmers and plots.")
    print("\nDemo logins (POST /api/v1/auth/token, or 'Authorize' in the API docs):")
    for login in logins:
        print(f"  {login.username:<14} {login.password:<26} {login.role:<10} {login.note}")
    print(
        f"\nExample:\n  curl -s -X POST {base}/api/v1/auth/token "
        "-d 'username=admin&password=chacra-demo-admin'"
    )


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from deploy.front import Front
    from shared.observability import configure_logging

    settings = get_settings()
    limit_malloc_arenas(settings.malloc_arenas)  # before the database threads start
    base = f"http://{args.host}:{args.port}"
    if args.demo:
        _print_logins(asyncio.run(_load_demo(settings)), base)
    configure_logging(settings.log_level, as_json=settings.log_json)
    app: Any
    if args.target == "all":
        from deploy.allinone import create_allinone

        app = create_allinone(settings)
        where = f"database {_shown(settings.database_url)}"
    else:
        route = next(s for s in SERVICES if s.name == args.target)
        try:
            app = route.factory()(settings)
        except RuntimeError as exc:  # a missing peer URL: say what to set, not a traceback
            print(f"chacra serve --target {args.target}: {exc}", file=sys.stderr)
            return 2
        where = f"database {_shown(settings.database_url_for(route.name))}"
    print(f"\nChacra ({args.target}) on {base} — {where}")
    print(f"  API docs:     {base}/docs")
    print(f"  OpenAPI:      {base}/openapi.json")
    print(f"  Health:       {base}/healthz  {base}/readyz  {base}/metrics\n", flush=True)
    uvicorn.run(
        Front(app, args.forwarded_allow_ips),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,  # Front applies uvicorn's middleware for them, after the front layers
        # No "Server: uvicorn" on every answer: it tells a scanner which software to try, and
        # costs each answer a header (~2 % of a cached public page's time in a scan burst).
        server_header=False,
    )
    return 0


def cmd_demo(_args: argparse.Namespace) -> int:
    _print_logins(asyncio.run(_load_demo(get_settings())), "http://127.0.0.1:8000")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    targets = [s.name for s in SERVICES] if args.target == "all" else [args.target]
    asyncio.run(migrate_services(get_settings(), targets))
    print(f"Migrated: {', '.join(targets)}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from deploy.importing import run_import

    if not Path(args.file).is_file():
        print(f"chacra: no such file: {args.file}", file=sys.stderr)
        return 2
    return asyncio.run(
        run_import(
            get_settings(), args.kind, Path(args.file), cooperative_id=args.cooperative, dry_run=args.dry_run
        )
    )


def cmd_gateway_config(args: argparse.Namespace) -> int:
    upstreams = dict(pair.split("=", 1) for pair in args.upstream)
    sys.stdout.write(nginx_config(upstreams))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chacra", description="Traceability for cacao and coffee from Peru."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start a server (all-in-one by default)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--target", choices=TARGETS, default="all")
    serve.add_argument(
        "--demo", action="store_true", help="load the demo data first (once) and print the logins"
    )
    serve.add_argument("--forwarded-allow-ips", default="127.0.0.1")
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser("demo", help="load the demo data (once) and print the logins")
    demo.set_defaults(func=cmd_demo)

    migrate = sub.add_parser("migrate", help="apply pending migrations")
    migrate.add_argument("--target", choices=TARGETS, default="all")
    migrate.set_defaults(func=cmd_migrate)

    imp = sub.add_parser("import", help="import a CSV file, all or nothing")
    imp.add_argument("kind", choices=["cooperatives", "farmers"])
    imp.add_argument("file")
    imp.add_argument("--cooperative", help="cooperative id (for farmers)")
    imp.add_argument("--dry-run", action="store_true", help="validate only, write nothing")
    imp.set_defaults(func=cmd_import)

    gateway = sub.add_parser("gateway-config", help="print an nginx gateway config for distributed mode")
    gateway.add_argument("--upstream", action="append", default=[], metavar="SERVICE=URL")
    gateway.set_defaults(func=cmd_gateway_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
