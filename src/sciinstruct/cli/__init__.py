"""The `sciinstruct` command line: one module per command, registered by `main`."""
