"""flask events deliver: the long-running deliverer (or --once), stopped cleanly by SIGTERM."""

import signal

import click
from flask import current_app
from flask.cli import AppGroup
from prometheus_client import start_http_server

from ..config import parse_duration
from ..ops.metrics import registry
from .deliver import Deliverer, Settings, parse_schedule

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
events_cli = AppGroup("events", help="Order events: deliver webhooks to subscribers.")


@events_cli.command("deliver")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--concurrency", type=click.IntRange(1, 256), default=8, show_default=True)
@click.option("--metrics-port", type=click.IntRange(1, 65535), help="Serve /metrics on it.")
def deliver(once, concurrency, metrics_port):
    """Send pending deliveries, signed, with retries; SIGTERM stops after those in flight."""
    config = current_app.config
    try:
        schedule = parse_schedule(config["WEBHOOK_RETRY_SCHEDULE"])
    except ValueError as error:
        raise click.ClickException(f"WEBHOOK_RETRY_SCHEDULE: {error}") from None
    settings = Settings(
        config["WEBHOOK_TIMEOUT_SECONDS"],
        schedule,
        concurrency,
        allow_private_targets=config["WEBHOOK_ALLOW_PRIVATE_TARGETS"],
        disable_after=parse_duration(config["WEBHOOK_DISABLE_AFTER"]),  # checked at start
    )
    deliverer = Deliverer(settings, config["DATABASE_URL"])
    previous = {signum: signal.signal(signum, deliverer.stop) for signum in STOP_SIGNALS}
    if metrics_port:
        start_http_server(metrics_port, registry=registry())
    click.echo(f"events deliver: {'once' if once else 'running'}, {concurrency} at a time.")
    try:
        attempts = deliverer.run(once=once)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    click.echo(f"events deliver: stopped after {attempts} attempts.")
