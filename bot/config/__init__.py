"""Configuration: the TOML file read once at start into typed, validated settings."""
