"""Persistence with SQLAlchemy 2.x: tables, repositories, inbox and outbox, migrations, audit log."""
