"""The narrator's voice: which engine speaks (Piper, espeak-ng or none) and the speech it makes, cached.

    voice = resolve_voice("auto")            # joe if installed, else espeak-ng, else silent
    narrator = Narrator(voice, cache_dir, pacing=1.0)
    speech = narrator.speak("Divide by the square root of d k.")
    speech.seconds, speech.sentences          # how long it takes; where each sentence ends

No Manim and no click here: the drawing layer times its beats with ``Speech.seconds``,
the production layer turns the samples into the videos' sound.
"""

from .engines import SILENT, Voice, VoiceError, resolve_voice
from .speech import Narrator, Speech

__all__ = ["SILENT", "Narrator", "Speech", "Voice", "VoiceError", "resolve_voice"]
