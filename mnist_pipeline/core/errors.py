"""The one error type a command reports to the user as a single line."""


class PipelineError(Exception):
    """Bad input or configuration; the message names the file, key or value at fault."""
