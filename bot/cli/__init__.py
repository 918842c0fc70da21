"""The `liaison-bot` command line: run, console, and the operator's tools."""
