"""Reminders, digests, bulletins and retention on APScheduler."""
