"""The runtime of liaison-bot: configuration, command line, connectors, delivery and scheduling."""
