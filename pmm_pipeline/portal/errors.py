"""The platform's own error for bad account input, importable before Django is configured (the command line's)."""


class AccountError(ValueError):
    """Bad input for an account command: one line, said to the person."""
