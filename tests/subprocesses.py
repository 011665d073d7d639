"""Start `composer` in a child process the way a terminal would, whatever launched the test run."""

import signal
import subprocess


def start(command: list[str], **options) -> subprocess.Popen:
    """A shell starts background jobs with Ctrl-C (SIGINT) ignored, and a child inherits that; Python then
    never raises KeyboardInterrupt. Tests of Ctrl-C need the default, as in a terminal."""
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        **options,
    )
