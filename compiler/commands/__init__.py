"""Command implementations, one module per area; `compiler/cli.py` registers each."""
