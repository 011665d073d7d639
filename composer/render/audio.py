"""Listening without a DAW: a MIDI file rendered to WAV by the `fluidsynth` program.

FluidSynth and a General MIDI soundfont are system packages (Debian's
`fluidsynth` and `fluid-soundfont-gm`), not Python ones: they are looked up when
--wav is asked for, and their absence is a clear message, never a dependency.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from composer.atomic import write_atomic
from composer.errors import ComposerError

DEBIAN_SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")  # from the fluid-soundfont-gm package
_INSTALL_FLUIDSYNTH = "install it with `apt install fluidsynth fluid-soundfont-gm`"


def find_renderer() -> tuple[str, Path]:
    """The fluidsynth program and a General MIDI soundfont (COMPOSER_SOUNDFONT, else Debian's), or why not."""
    program = shutil.which("fluidsynth")
    soundfont = Path(os.environ.get("COMPOSER_SOUNDFONT") or DEBIAN_SOUNDFONT)
    if program is None:
        raise ComposerError(f"--wav needs the fluidsynth program: {_INSTALL_FLUIDSYNTH}")
    if not soundfont.is_file():
        raise ComposerError(
            f"--wav needs a soundfont, none at {soundfont}: {_INSTALL_FLUIDSYNTH}, "
            "or set COMPOSER_SOUNDFONT to a .sf2 file"
        )
    return program, soundfont


def render_wav(renderer: tuple[str, Path], midi: Path, wav: Path, *, overwrite: bool) -> Path:
    """``midi`` played by FluidSynth into ``wav`` (44.1 kHz), for listening without a DAW.

    FluidSynth writes into a private folder; the finished file is then published
    atomically, so a failed render never leaves half a WAV or replaces an existing one.
    """
    program, soundfont = renderer
    with tempfile.TemporaryDirectory() as folder:
        staged = Path(folder) / "render.wav"
        command = [program, "-ni", "-F", str(staged), "-r", "44100", str(soundfont), str(midi)]
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if done.returncode != 0 or not staged.is_file():
            reason = (done.stderr.strip() or done.stdout.strip() or f"exit code {done.returncode}").splitlines()[-1]
            raise ComposerError(f"fluidsynth could not render {midi}: {reason}")
        return write_atomic(wav, staged.read_bytes(), overwrite=overwrite)
