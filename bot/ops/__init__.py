"""Operating the bot: health and metrics, logs, active/standby, backups, audit witnesses."""
