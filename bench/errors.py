"""The one error the harness raises for a part it cannot run: shown in the table as ERROR, never hidden."""


class BenchError(Exception):
    """A benchmark part could not run (missing tool, server that did not start, invalid measurement)."""
