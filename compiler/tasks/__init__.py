"""What a command does once its arguments are parsed (as dbt's tasks): `compile` and
`validate` run the pipeline, deliver its result and return an outcome for the CLI to print.
Tasks never print or exit; they raise `Usage` for a request that cannot be met as asked."""


class Usage(Exception):
    """The request cannot be met as asked (the CLI's usage error, exit 2)."""


__all__ = ["Usage"]
