"""The one error type the zoo raises for a user's mistake.

The CLI turns it into a single line on stderr and exit code 2; library callers get an ordinary exception whose
message says what was wrong and what would be right.
"""


class ZooError(ValueError):
    """A user's mistake: unknown name, bad override, wrong shape, missing run directory, corrupt file."""
