"""Answer hostile cases with the exported function, in the Python that runs this file.

`test_handler_hostile.py` runs it with each Lambda environment's Python
(`.venvs/lambda-classic`, `.venvs/lambda-modern`), with `tests/` and `src/`
on `PYTHONPATH`, while the hostile servers stay in the test process. It reads
one JSON request per line on standard input:

    {"handler": "quick", "pretend": false, "certificate": null, "event": {...}}

and answers each with one JSON line: the handler's response, the seconds it
took and the instance's download deadline. The handler's own log lines, and
anything native libraries print, go to standard error, so that the protocol
on standard output stays clean.
"""

import contextlib
import io
import json
import os
import sys
import time

from handler_harness import case_conditions, load_configured


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever writes to file descriptor 1 from now on lands on stderr
    instances = {}
    context = type("Context", (), {"aws_request_id": "lambda-environment"})()
    for line in sys.stdin:
        request = json.loads(line)
        name = request["handler"]
        function = instances.get(name) or instances.setdefault(name, load_configured(name))
        conditions = case_conditions(
            function, pretend=request["pretend"], certificate=request["certificate"]
        )
        with conditions, contextlib.redirect_stdout(io.StringIO()):
            started = time.monotonic()
            response = function.lambda_handler(request["event"], context)
            seconds = time.monotonic() - started
        deadline = function.source.DOWNLOAD_DEADLINE_SECONDS
        protocol.write(json.dumps({"response": response, "seconds": seconds,
                                   "deadline": deadline}) + "\n")
        protocol.flush()


if __name__ == "__main__":
    main()
