"""Start-up of the reminder scheduler with 10,000 items awaiting acknowledgement, next to a raw baseline.

    .venv/bin/python bench/reminders_bench.py [--items 10000]

The parent seeds a temporary SQLite database (the sample network of config.example.toml; every item
delivered to one or two points of contact, none acknowledged, every reminder stage still ahead), then
starts the bot in a child process, so that the child's memory is the bot's alone: the bot's imports,
the composition root (bot.runtime.app.build_runtime), then bot.scheduling.scheduler.start_scheduler: APScheduler with its job store, job
reconciliation, and planning every open item from scratch. It does that twice (a cold job store,
then a restart). The baseline, in the same child: one plain SELECT of the same items and deliveries.

Goals: start to a reconciled scheduler under 2 s; resident memory of the bot process under 150 MB
(peak, ru_maxrss). Prints the figures; asserts nothing.
"""

from __future__ import annotations

import time

PROCESS_START = time.perf_counter()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from datetime import datetime, timedelta, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONTACTS = ("th-npoc", "my-npoc", "au-npoc", "ca-npoc", "id-immigration", "th-police", "iom-npoc", "vn-npoc")
PRIORITIES = ("routine", "priority", "urgent")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def config_text(folder: Path) -> str:
    text = (ROOT / "config.example.toml").read_text()
    return (text.replace('url = "sqlite:///var/liaison.sqlite"', f'url = "sqlite:///{folder}/bench.db"')
            .replace('path = "var/keys/liaison.keys"', f'path = "{folder}/keys/liaison.keys"')
            .replace('witness_path = "var/audit/witness.log"', f'witness_path = "{folder}/witness.log"'))


def seed(folder: Path, count: int) -> None:
    """Items and deliveries straight into the tables, in one transaction: the scheduler reads only
    their clear columns, so their sealed content is a placeholder here."""
    from sqlalchemy import insert

    from storage.db import create_engine_for, sqlite_url
    from storage.migrate import upgrade
    from storage.tables import deliveries, items

    engine = create_engine_for(sqlite_url(folder / "bench.db"))
    upgrade(engine)
    now = datetime.now(timezone.utc)
    item_rows, delivery_rows = [], []
    for i in range(1, count + 1):
        created = now - timedelta(minutes=i % 30)
        ref = f"A-2026-{i:05d}"
        item_rows.append(dict(
            reference=ref, kind="A", year=2026, number=i, originator="my-officer", origin_chat="console:@my-officer",
            created_at=created, ack_due=created + timedelta(days=1), feedback_due=created + timedelta(days=7),
            state="open", tlp="AMBER", handling="H0", orcon=False, priority=PRIORITIES[i % 3], topic="maritime",
            grading=None, recipients="TH", due_after=None, due_at=None, content=b"sealed elsewhere"))
        for contact in {CONTACTS[i % len(CONTACTS)], CONTACTS[(i * 7) % len(CONTACTS)]}:
            delivery_rows.append(dict(item_reference=ref, contact=contact, destination=f"direct:console:{contact}",
                                      reason="bench", outbox_key=f"d-{i}-{contact}", state="sent", sent_at=created))
    with engine.begin() as conn:
        conn.execute(insert(items), item_rows)
        conn.execute(insert(deliveries), delivery_rows)
    engine.dispose()


async def start_and_measure(config: Path) -> dict[str, float]:
    from sqlalchemy import select

    from bot.runtime.app import build_runtime
    from bot.config.settings import settings_from_toml
    from bot.scheduling.scheduler import start_scheduler
    from storage.tables import deliveries, items

    figures = {"imports_s": time.perf_counter() - PROCESS_START, "rss_after_imports_mb": rss_mb()}
    began = time.perf_counter()
    settings = settings_from_toml(config.read_text(), config)
    runtime = build_runtime(settings, out=io.StringIO(), notice=io.StringIO())
    figures["runtime_s"] = time.perf_counter() - began

    scheduler_began = time.perf_counter()
    scheduler = await start_scheduler(runtime)
    figures["scheduler_cold_s"] = time.perf_counter() - scheduler_began
    figures["start_to_reconciled_s"] = time.perf_counter() - PROCESS_START
    assert scheduler is not None and scheduler.catch_up is not None
    figures["items_planned"] = scheduler.catch_up.planned
    figures["reminders_sent_at_start"] = scheduler.catch_up.sent
    await scheduler.stop()

    restart_began = time.perf_counter()
    scheduler = await start_scheduler(runtime)
    figures["scheduler_restart_s"] = time.perf_counter() - restart_began
    await scheduler.stop()  # type: ignore[union-attr]

    baseline_began = time.perf_counter()
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(items.c.reference, items.c.priority, items.c.ack_due, items.c.feedback_due,
                                   deliveries.c.contact, deliveries.c.state, deliveries.c.sent_at)
                            .join(deliveries, deliveries.c.item_reference == items.c.reference)).all()
    figures["baseline_select_s"] = time.perf_counter() - baseline_began
    figures["baseline_rows"] = len(rows)
    figures["rss_peak_mb"] = rss_mb()
    await runtime.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(start_and_measure(args.child))))
        return
    with tempfile.TemporaryDirectory(prefix="reminders-bench-") as tmp:
        folder = Path(tmp)
        config = folder / "config.toml"
        config.write_text(config_text(folder))
        seeding = time.perf_counter()
        seed(folder, args.items)
        print(f"seeded {args.items} items awaiting acknowledgement in {time.perf_counter() - seeding:.2f} s")
        child = subprocess.run([sys.executable, __file__, "--child", str(config)], capture_output=True, text=True,
                               check=True, cwd=ROOT)
        f = json.loads(child.stdout.strip().splitlines()[-1])
    cold, restart, base = f["scheduler_cold_s"], f["scheduler_restart_s"], f["baseline_select_s"]
    print(f"items planned at start:            {f['items_planned']:.0f} (reminders due at once: "
          f"{f['reminders_sent_at_start']:.0f}); baseline rows {f['baseline_rows']:.0f}")
    print(f"process start to reconciled:       {f['start_to_reconciled_s']:.2f} s   (goal < 2 s; imports "
          f"{f['imports_s']:.2f} s, composition root {f['runtime_s']:.2f} s)")
    print(f"start_scheduler, cold job store:   {cold:.3f} s   = {cold / base:.1f} x the baseline SELECT ({base:.3f} s)")
    print(f"start_scheduler, restart:          {restart:.3f} s   = {restart / base:.1f} x the baseline SELECT")
    print(f"resident memory (peak, whole bot): {f['rss_peak_mb']:.0f} MB   (goal < 150 MB; after imports "
          f"{f['rss_after_imports_mb']:.0f} MB)")
    met = f["start_to_reconciled_s"] < 2 and f["rss_peak_mb"] < 150
    print(f"goal reminders: start to reconciled < 2 s, peak memory < 150 MB: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
