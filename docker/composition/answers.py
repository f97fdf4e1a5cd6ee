"""What both halves of the composed model share: a model's version, the answer, the log line.

The backbone (features_function.py) and the heads (head_function.py) answer and log as
lesson 04's handler does: a document or {"error": {"status", "message"}}, and one JSON
line per request naming the model version that ran.
"""

import hashlib
import json
import time
import traceback

from image_source import RequestError


def model_digest(path):
    """The first 12 hex digits of a file's SHA-256: which model this is, whatever its name."""
    with open(path, "rb") as model_file:
        return hashlib.sha256(model_file.read()).hexdigest()[:12]


def answer(compute, request, request_id, model_version):
    """(status, document) for `request`, with `compute(request, stats)`; logs; never raises."""
    started, stats = time.perf_counter(), {"bytes_fetched": 0}
    record = {"request_id": request_id, "model_version": model_version}
    try:
        document, status = compute(request, stats), 200
        record.update(outcome="ok")
        if "prediction" in document:  # a head names its answer; the backbone has none
            record["prediction"] = document["prediction"]
    except RequestError as error:
        status, document = error.status, {"error": {"status": error.status, "message": str(error)}}
        record.update(outcome="rejected", reason=str(error))
    except Exception as error:  # a bug: the details go to the log, a plain 500 to the caller
        status, document = 500, {"error": {"status": 500, "message": "internal error"}}
        record.update(outcome="error", error=repr(error), traceback=traceback.format_exc())
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    record.update(status=status, duration_ms=duration_ms, bytes_fetched=stats["bytes_fetched"])
    print(json.dumps(record), flush=True)
    return status, document
