"""The baseline: a bare Flask app answering a static JSON body, under the service's gunicorn.

`gunicorn --config gunicorn.conf.py bench.baseline:app` with BENCH_BASELINE_BODY naming a file
that holds the body (the bench writes a real order response there, so sizes match).
"""

import os
from pathlib import Path

from flask import Flask, Response

BODY = Path(os.environ["BENCH_BASELINE_BODY"]).read_bytes()

app = Flask(__name__)


@app.route("/", defaults={"path": ""})
@app.route("/<path:path>")
def static_json(path):
    return Response(BODY, mimetype="application/json")
