"""Bilingual lessons: one notebook per lesson, every text cell in Simplified Chinese and in
English, the code cells shared, so the code of the two languages cannot drift apart.

A text (markdown) cell of a lesson names its language and its pair in its metadata::

    "metadata": {"virtwork": {"lang": "zh", "pair": "docker-intro",
                              "counterpart": "sha256:3f2a9c1b0d4e"}}

The two cells of a pair sit side by side, Chinese first. ``counterpart`` is the hash of the
other cell's text when this one was last written to match it: change one language only and
its partner's hash no longer matches (``lesson.problems`` says which language moved on).
``stamp`` records both hashes once the two say the same again. ``export`` writes the
single-language editions (``zh/`` and ``en/`` beside the lessons) with the code cells and
their saved outputs as they are. ``python -m jupyter_virtwork.course`` runs these.
"""
