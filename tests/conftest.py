import os

from hypothesis import settings

# `HYPOTHESIS_PROFILE=thorough pytest` runs the property tests 20x longer before a release.
settings.register_profile("default", max_examples=150, deadline=None)
settings.register_profile("thorough", max_examples=3000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
