"""`sciinstruct view`: a run directory in the browser, and a reviewer's overrides of verdicts.

Optional: needs the `view` extra (`pip install 'sciinstruct[view]'`). See `app.create_app`.
"""
