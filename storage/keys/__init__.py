"""Per-case data keys, wrapped by the master keys of the key file (storage.keyring)."""
