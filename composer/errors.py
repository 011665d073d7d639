"""The one exception type for problems a user can cause and fix."""


class ComposerError(Exception):
    """A user-facing error; the message says what went wrong and what to do about it.

    The CLI prints it as ``Error: <message>`` and exits with code 2, so library code
    raises it instead of letting a traceback reach a musician.
    """
