"""nbval runs the bilingual lessons in this folder, not their single-language editions.

``zh/`` and ``en/`` are written by ``python -m jupyter_virtwork.course export`` from the
lessons: the same code cells with the same saved outputs, one language's text. Running them
too would run every cell three times on the engines and test nothing new;
``tests/unit/test_course.py`` proves each edition is exactly its lesson's code and outputs.
"""

collect_ignore = ["zh", "en"]
