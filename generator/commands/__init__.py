"""The `keelson` commands, a module per group: each adds its parsers and delegates to the API.

`generator.cli` assembles them into one parser and runs the command chosen.
"""
