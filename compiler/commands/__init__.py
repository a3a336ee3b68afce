"""Command implementations; compiler/cli.py registers each on the `main` group."""
