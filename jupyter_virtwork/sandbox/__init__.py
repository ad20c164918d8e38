"""The sandbox: real local engines, installed and started by the project itself.

``python -m jupyter_virtwork.sandbox up | down | status [--json]`` (console script
``virtwork-sandbox``). Each engine is a module here with an ``Engine`` subclass
(``engine.py``); ``engines.py`` lists them in start order. The rest of the toolkit learns
where the sandbox's engines answer from ``connections.py``.
"""
