"""The jupyter_server extension behind the JupyterLab "Virtwork" side panel.

REST handlers for connections, resources and actions, and one WebSocket of live events, all
fed by the same drivers and watchers as the notebook widgets. Nothing here is imported by
``import jupyter_virtwork``: jupyter_server loads ``jupyter_virtwork.server.extension``.

    config.py      the admin's settings (VirtworkServer) and the policy of allowed URIs
    app.py         the extension's state: its Session (../session.py) opens the policy's
                   endpoints by alias, on first use
    records.py     a Resource as the panel's JSON row (actions: ../actions.py)
    errors.py      VirtworkError -> HTTP status and {code, message}, in one place
    redact.py      secrets never leave: responses, WebSocket messages, logs
    feeds.py       one watcher per connection and kind, shared by every browser tab
    classview.py   the teacher's view of the class (../classroom/roster.py), for the panel
    handlers.py    the REST handlers
    stream.py      the WebSocket handler
    extension.py   _load_jupyter_server_extension: wires the above into the server
"""
