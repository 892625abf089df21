"""The model server: FastAPI on uvicorn, in a process of its own (``mlops-desktop serve``).

- ``server.prepare(ServeOptions)`` / ``server.run(prepared)``: what the command runs.
- ``app.create_app(holder, Settings)``: the ASGI app around a ``state.ModelHolder``.
- ``parsing``: request bodies to typed columns; ``batcher``: shared predict calls;
  ``state``: the served version and the alias follower; ``stats``: the stdout lines.

Predictors (what actually predicts) live in ``services.predictors``.
"""
