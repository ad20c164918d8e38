"""One driver per backend; ``base.py`` is the contract they all pass."""
