"""The measuring behind notebook 05 (containers vs VMs), kept beside the notebooks.

The notebook runs in this folder, so ``from lab import ...`` works there as it does for
``python -m lab.sweep`` (the full sweep, ``make measure``). It creates through the toolkit's
drivers, so everything carries the ownership labels ``%vw cleanup`` removes, and measures
through the host kernel (``/proc``, the cgroup files), which sees what the host pays.
"""
