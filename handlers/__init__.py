"""The command language: parse what people type into commands and carry them out, platform-neutral."""
