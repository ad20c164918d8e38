"""IPython magics: ``%docker``/``%%dockerfile``, ``%k8s``/``%%k8s``, ``%vm``, ``%vw``.

One module per command family; ``base.py`` holds parsing, one-line errors and the Session.
"""

from __future__ import annotations

from .docker import DockerMagics
from .k8s import K8sMagics
from .vm import VMMagics
from .vw import VWMagics

ALL = (DockerMagics, K8sMagics, VMMagics, VWMagics)
