"""The local AWS endpoint: moto, with container-image invocations run by the real RIE.

Offline, every AWS call of lessons 07, 08, 10 and 11 (the AWS CLI's and boto3's) goes
to this small HTTP server on 127.0.0.1, the `AWS_ENDPOINT_URL` of the local
account (`serverless_dl.aws.local_account`). It is not an AWS emulator of its
own. It does three things:

- **forwards** every request to moto, unchanged, and returns moto's answer;
- **runs container-image functions**, which moto cannot do: for Lambda's
  Invoke (`POST /2015-03-31/functions/{name}/invocations`) of a function
  whose package type is `Image`, it reads the function's configuration from
  moto (the resolved image digest, memory, timeout, variables), pulls exactly
  that image from the local registry, and sends the event to the AWS Lambda
  Runtime Interface Emulator inside the image, in a container run as Lambda
  runs one (`function_images.lambda_like_options`). The container stays warm
  for the next invocation; a new configuration gets a new container. The
  answer carries what Lambda's does: the payload, `X-Amz-Function-Error` when
  the function failed, `X-Amz-Executed-Version`, and, when asked with
  `LogType=Tail`, `X-Amz-Log-Result`: the base64 of the invocation's log
  lines, from START to REPORT, as the emulator printed them. Those lines also
  go to moto's CloudWatch Logs, group `/aws/lambda/<function>`, one stream
  per container, as Lambda writes them; moto would never see them otherwise;
- **logs every operation** it sees to `operations.jsonl` in the account's
  folder, one JSON object a line: `{"service", "operation", "method",
  "path"}`. The service is the signing name of the request's credential
  scope (`ecr`, `iam`, `lambda`, `apigateway`, `sts`); the operation is
  botocore's name for it (`CreateRepository`), found in botocore's service
  models from `X-Amz-Target` (JSON protocol), `Action=` (query protocol) or
  the method and path (REST protocols). It is the list of permissions the
  course needs.

The only setting the runner adds to a function's environment is
`ALLOW_LOOPBACK_URLS=1`, so the function may fetch images from 127.0.0.1;
it is never part of the function's configuration.

Started by `serverless_dl.aws.local_account`; by hand::

    python -m serverless_dl.aws.aws_front --port 4566 --moto http://127.0.0.1:5000 \\
        --registry 127.0.0.1:5001 --folder build/local-aws
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import http.client
import http.server
import json
import re
import signal
import sys
import threading
import time
import urllib.parse
from functools import cache
from pathlib import Path

from serverless_dl.base.lambda_facts import ALLOW_LOOPBACK
from serverless_dl.containers import docker_engine
from serverless_dl.containers.function_images import lambda_like_options
from serverless_dl.containers.lambda_base import FunctionContainer, start_function

# Containers the front starts carry this label, with the account's folder as its value.
CONTAINER_LABEL = "serverless-dl.local-aws"
OPERATIONS_FILE = "operations.jsonl"
LOG_TAIL_BYTES = 4096  # Lambda returns the last 4 KB of an invocation's log
REPORT_WAIT_SECONDS = 15  # the REPORT line can follow the answer by a moment
# Lambda operations after which a function's execution environments are replaced.
_CHANGES_A_FUNCTION = {
    "CreateFunction", "DeleteFunction", "UpdateFunctionCode", "UpdateFunctionConfiguration",
}  # fmt: skip
_CREDENTIAL_SCOPE = re.compile(
    r"Credential=(?P<key>[^/,\s]+)/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/"
)
_HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "content-length",
}  # fmt: skip


# --- naming operations with botocore's service models ------------------------------


@dataclasses.dataclass(frozen=True)
class Route:
    """One REST operation: its method, its path as a pattern, the query keys it requires."""

    operation: str
    method: str
    pattern: re.Pattern
    query_keys: frozenset[str]
    literal_chars: int


def _route(operation: str, method: str, request_uri: str) -> Route:
    path, _, query = request_uri.partition("?")
    pattern, literal_chars = "", 0
    for piece in re.split(r"(\{[^}]+\})", path):
        if piece.startswith("{"):
            greedy = piece.endswith("+}")  # {Key+} may span several path segments
            pattern += f"(?P<{_group(piece)}>{'.+' if greedy else '[^/]+'})"
        else:
            pattern += re.escape(piece)
            literal_chars += len(piece)
    keys = frozenset(part.split("=")[0] for part in query.split("&") if part)
    return Route(operation, method, re.compile(pattern + "/?"), keys, literal_chars)


def _group(label: str) -> str:
    return re.sub(r"\W", "_", label.strip("{}+"))


@cache
def _service_model(signing_name: str):
    """botocore's model of the service signed as `signing_name` (None if botocore has none)."""
    import botocore.exceptions
    import botocore.session

    session = botocore.session.get_session()
    try:
        model = session.get_service_model(signing_name)
        if model.signing_name == signing_name:
            return model
    except botocore.exceptions.UnknownServiceError:
        pass
    for name in session.get_available_services():  # slow, and only for unusual names
        model = session.get_service_model(name)
        if model.signing_name == signing_name:
            return model
    return None


@cache
def _routes(signing_name: str) -> tuple[Route, ...]:
    model = _service_model(signing_name)
    if model is None:
        return ()
    routes = []
    for name in model.operation_names:
        http_binding = model.operation_model(name).http
        routes.append(_route(name, http_binding["method"], http_binding["requestUri"]))
    return tuple(routes)


def match_route(signing_name: str, method: str, path: str, query: dict) -> Route | None:
    """The REST operation of `signing_name` that `method path?query` calls, or None.

    Among the routes that match, the one that requires the most query keys
    and has the most literal characters wins (`/apikeys?mode=import` over
    `/apikeys`, `/restapis/{id}/resources` over `/restapis/{id}/{any+}`).
    """
    candidates = [
        route for route in _routes(signing_name)
        if route.method == method and route.query_keys <= query.keys()
        and route.pattern.fullmatch(path)
    ]  # fmt: skip
    if not candidates:
        return None
    return max(candidates, key=lambda route: (len(route.query_keys), route.literal_chars))


def signing_scope(authorization: str) -> tuple[str, str, str] | None:
    """(access key id, region, service) from a SigV4 `Authorization` header, or None."""
    match = _CREDENTIAL_SCOPE.search(authorization or "")
    return (match["key"], match["region"], match["service"]) if match else None


def operation_name(signing_name: str, method: str, target: str, path: str, query: dict,
                   form: dict) -> str | None:  # fmt: skip
    """botocore's name for the operation a request calls, or None when it names none.

    `target` is the `X-Amz-Target` header, `query` and `form` the parsed query
    string and form body (lists of values, as `urllib.parse.parse_qs` gives).
    """
    if target:  # JSON protocol: "AmazonEC2ContainerRegistry_V20150921.CreateRepository"
        return target.rsplit(".", 1)[-1]
    action = (form.get("Action") or query.get("Action") or [None])[0]
    if action:  # query protocol
        return action
    rpc = re.fullmatch(r"/service/[^/]+/operation/(?P<name>[^/]+)", path)
    if rpc:  # Smithy RPC v2
        return rpc["name"]
    route = match_route(signing_name, method, path, query)
    return route.operation if route else None


# --- running container-image functions -------------------------------------------


@dataclasses.dataclass
class _WarmFunction:
    """A running container for one configuration of one function."""

    key: tuple
    container: FunctionContainer
    seen_reports: int = 0


@dataclasses.dataclass
class InvokeAnswer:
    """What Lambda's Invoke answers: a status, a payload and its headers."""

    status: int
    payload: bytes
    headers: dict[str, str]


class ImageFunctions:
    """Container-image functions run by the RIE inside their images, kept warm between calls."""

    def __init__(self, moto_url: str, registry: str, folder: Path):
        self.moto_url = moto_url
        self.registry = registry
        self.folder = folder
        self._warm: dict[tuple, _WarmFunction] = {}
        self._locks: dict[tuple, threading.Lock] = {}
        self._guard = threading.Lock()
        self._clients: dict[tuple[str, str, str], object] = {}

    def _moto_client(self, service: str, region: str, access_key: str):
        """A boto3 client of moto for `service`, one per region and key.

        Clients are slow to make, and every invocation needs two (Lambda, Logs).
        """
        key = (service, region, access_key)
        with self._guard:
            if key not in self._clients:
                import boto3

                self._clients[key] = boto3.client(
                    service, endpoint_url=self.moto_url, region_name=region,
                    aws_access_key_id=access_key, aws_secret_access_key="unused-by-moto",
                )  # fmt: skip
            return self._clients[key]

    def configuration(self, region: str, access_key: str, function: str, qualifier: str | None):
        """The function's `GetFunction` answer from moto, or None when moto has no such function."""
        client = self._moto_client("lambda", region, access_key)
        options = {"Qualifier": qualifier} if qualifier else {}
        try:
            return client.get_function(FunctionName=function, **options)
        except client.exceptions.ResourceNotFoundException:
            return None

    def _lock_for(self, key: tuple) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _warm_container(self, where: tuple, function: dict, region: str) -> _WarmFunction:
        config = function["Configuration"]
        resolved = function["Code"]["ResolvedImageUri"]  # <ecr host>/<repository>@sha256:...
        variables = (config.get("Environment") or {}).get("Variables") or {}
        key = (resolved, config["MemorySize"], config["Timeout"], tuple(sorted(variables.items())))
        warm = self._warm.get(where)
        if warm is not None and warm.key == key:
            return warm
        if warm is not None:  # a new configuration gets a new execution environment, as on AWS
            warm.container.stop()
            del self._warm[where]
        # The ECR host names a repository of the account; its images are in the local registry.
        local_image = f"{self.registry}/{resolved.split('/', 1)[1]}"
        docker_engine.docker("pull", "--quiet", local_image, timeout=600)
        environment = {
            "AWS_LAMBDA_FUNCTION_NAME": config["FunctionName"],
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config["MemorySize"]),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(config["Timeout"]),
            "AWS_LAMBDA_FUNCTION_VERSION": config.get("Version", "$LATEST"),
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            **variables,
            **ALLOW_LOOPBACK,  # test-only: lets the function fetch images from 127.0.0.1
        }
        options = [*lambda_like_options(config["MemorySize"]),
                   "--label", f"{CONTAINER_LABEL}={self.folder}"]  # fmt: skip
        container = start_function(local_image, env=environment, options=options)
        warm = _WarmFunction(key=key, container=container)
        self._warm[where] = warm
        return warm

    def deliver_logs(self, region: str, access_key: str, config: dict, warm, log: str) -> None:
        """Write an invocation's log lines to CloudWatch Logs (moto's), as Lambda does.

        Lambda creates the log group `/aws/lambda/<function>` on the first invocation and
        one log stream per execution environment; moto does not run functions, so it
        would never see either. `aws logs tail` and the cleanup then find them offline too.
        """
        logs = self._moto_client("logs", region, access_key)
        group = f"/aws/lambda/{config['FunctionName']}"
        stream = time.strftime("%Y/%m/%d/") + f"[{config.get('Version', '$LATEST')}]" + (
            warm.container.container[:32])
        for create, options in ((logs.create_log_group, {"logGroupName": group}),
                                (logs.create_log_stream,
                                 {"logGroupName": group, "logStreamName": stream})):
            try:
                create(**options)
            except logs.exceptions.ResourceAlreadyExistsException:
                pass
        now = int(time.time() * 1000)
        events = [{"timestamp": now, "message": line} for line in log.splitlines() if line]
        if events:
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)

    def invoke(self, function: dict, region: str, payload: bytes, log_tail: bool,
               access_key: str = "testing") -> InvokeAnswer:  # fmt: skip
        """Run one invocation of the image function `function` (its `GetFunction` answer)."""
        config = function["Configuration"]
        where = (region, config["FunctionArn"])
        with self._lock_for(where):  # one request at a time per execution environment
            warm = self._warm_container(where, function, region)
            reply = warm.container.invoke(payload or b"{}", timeout=config["Timeout"] + 30)
            log = _new_log_lines(warm, REPORT_WAIT_SECONDS)
            self.deliver_logs(region, access_key, config, warm, log)
        started = re.search(r"^START RequestId: (\S+)", log, re.MULTILINE)
        request_id = started[1] if started else ""
        body, error = _function_result(reply.body, request_id)
        headers = {
            "Content-Type": "application/json",
            "X-Amz-Executed-Version": config.get("Version", "$LATEST"),
        }
        if request_id:
            headers["x-amzn-RequestId"] = request_id
        if error:
            headers["X-Amz-Function-Error"] = error
        if log_tail:
            tail = log.encode()[-LOG_TAIL_BYTES:]
            headers["X-Amz-Log-Result"] = base64.b64encode(tail).decode()
        return InvokeAnswer(200, body, headers)

    def retire(self, region: str, function: str) -> None:
        """Stop the warm container of `function` (a name or an ARN): it was updated or deleted.

        Lambda starts new execution environments after any change to a function.
        """
        name = urllib.parse.unquote(function).split(":function:")[-1].split(":")[0]
        suffix = f":function:{name}"
        with self._guard:
            retired = [where for where in self._warm
                       if where[0] == region and where[1].endswith(suffix)]  # fmt: skip
        for where in retired:
            with self._lock_for(where):  # not while it serves an invocation
                warm = self._warm.pop(where, None)
                if warm is not None:
                    warm.container.stop()

    def stop_all(self) -> None:
        """Remove every container this runner started."""
        with self._guard:
            for warm in self._warm.values():
                warm.container.stop()
            self._warm.clear()


def _new_log_lines(warm: _WarmFunction, seconds: float) -> str:
    """The lines of the invocation that just ended: from its START line to its REPORT line.

    The emulator can print the REPORT line just after it answers; wait for it a little.
    """
    deadline = time.monotonic() + seconds
    while True:
        # stdout only: the function's output and START/END/REPORT; the emulator's own
        # debug lines go to stderr.
        log = docker_engine.docker("logs", warm.container.container, check=False).stdout
        reports = list(re.finditer(r"^REPORT RequestId: .*$", log, re.MULTILINE))
        if len(reports) > warm.seen_reports or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if len(reports) <= warm.seen_reports:
        return ""
    previous_end = reports[warm.seen_reports - 1].end() if warm.seen_reports else 0
    warm.seen_reports = len(reports)
    block = log[previous_end : reports[-1].end()]
    start = block.find("START RequestId:")
    return (block[start:] if start >= 0 else block).strip("\n") + "\n"


def _function_result(body: bytes, request_id: str) -> tuple[bytes, str | None]:
    """The payload Lambda returns for the emulator's answer, and the function error, if any.

    A function that raised answers `{"errorMessage": ..., "errorType": ...}`;
    the emulator answers a timeout with plain text, which Lambda reports as a
    JSON error of type `Sandbox.Timedout`.
    """
    try:
        document = json.loads(body)
    except ValueError:
        text = body.decode(errors="replace").strip()
        if text.startswith("Task timed out"):
            message = f"RequestId: {request_id} Error: {text}" if request_id else text
            document = {"errorType": "Sandbox.Timedout", "errorMessage": message}
            return json.dumps(document).encode(), "Unhandled"
        return body, None
    if isinstance(document, dict) and {"errorMessage", "errorType"} <= document.keys():
        return body, "Unhandled"
    return body, None


# --- the HTTP front ------------------------------------------------------------------


class Front(http.server.ThreadingHTTPServer):
    """The HTTP server: forwards to moto, runs image invocations, logs operations."""

    daemon_threads = True

    def __init__(self, port: int, moto_url: str, registry: str, folder: Path):
        super().__init__(("127.0.0.1", port), _FrontHandler)
        self.moto = urllib.parse.urlsplit(moto_url)
        self.functions = ImageFunctions(moto_url, registry, folder)
        self.operations_path = folder / OPERATIONS_FILE
        self._log_lock = threading.Lock()

    def record(self, entry: dict) -> None:
        """Append one operation to the operations log."""
        with self._log_lock, self.operations_path.open("a") as log:
            log.write(json.dumps(entry) + "\n")


class _FrontHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore expects
    server: Front

    def log_message(self, format, *args):  # noqa: A002 - the operations log says enough
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline().strip():  # trailers
                pass
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self) -> None:
        body = self._body()
        split = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        form = {}
        if "x-www-form-urlencoded" in self.headers.get("Content-Type", ""):
            form = urllib.parse.parse_qs(body.decode(errors="replace"), keep_blank_values=True)
        scope = signing_scope(self.headers.get("Authorization", ""))
        service = scope[2] if scope else None
        operation = None
        if service:
            operation = operation_name(service, self.command, self.headers.get("X-Amz-Target", ""),
                                       split.path, query, form)  # fmt: skip
        self.server.record({"service": service, "operation": operation,
                            "method": self.command, "path": split.path})  # fmt: skip
        answer = None
        if service == "lambda" and operation == "Invoke":
            answer = self._invoke(scope, split.path, query, body)
        if answer is None:
            answer = self._forward(body)
            if service == "lambda" and operation in _CHANGES_A_FUNCTION and answer.status < 300:
                self._retire(scope[1], split.path, query, body)
        self._answer(answer)

    def _retire(self, region: str, path: str, query: dict, body: bytes) -> None:
        route = match_route("lambda", self.command, path, query)
        groups = route.pattern.fullmatch(path).groupdict() if route else {}
        name = groups.get("FunctionName") or json.loads(body or b"{}").get("FunctionName")
        if name:
            self.server.functions.retire(region, name)

    def _invoke(self, scope, path: str, query: dict, body: bytes) -> InvokeAnswer | None:
        """Lambda's Invoke of an image function; None hands the request to moto."""
        access_key, region, _ = scope
        route = match_route("lambda", "POST", path, query)
        name = urllib.parse.unquote(route.pattern.fullmatch(path)["FunctionName"])
        qualifier = (query.get("Qualifier") or [None])[0]
        function = self.server.functions.configuration(region, access_key, name, qualifier)
        if function is None or function["Configuration"].get("PackageType") != "Image":
            return None  # moto answers: not found, or a zip function
        invocation_type = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type == "DryRun":
            return InvokeAnswer(204, b"", {})
        log_tail = self.headers.get("X-Amz-Log-Type", "None") == "Tail"
        functions = self.server.functions
        if invocation_type == "Event":  # asynchronous: accepted now, run in the background
            threading.Thread(
                target=functions.invoke, args=(function, region, body, False, access_key),
                daemon=True,
            ).start()
            return InvokeAnswer(202, b"", {})
        try:
            return functions.invoke(function, region, body, log_tail, access_key)
        except Exception as error:  # the service's fault, not the function's: Lambda says 502/500
            message = f"{type(error).__name__}: {error}".splitlines()[0][:500]
            document = {"Type": "Service", "Message": f"the local runner failed: {message}"}
            return InvokeAnswer(500, json.dumps(document).encode(),
                                {"Content-Type": "application/json",
                                 "x-amzn-ErrorType": "ServiceException"})  # fmt: skip

    def _forward(self, body: bytes) -> InvokeAnswer:
        """Send the request to moto unchanged; return moto's answer."""
        connection = http.client.HTTPConnection(self.server.moto.hostname, self.server.moto.port,
                                                timeout=300)  # fmt: skip
        headers = {name: value for name, value in self.headers.items()
                   if name.lower() not in _HOP_BY_HOP}  # fmt: skip
        headers["Content-Length"] = str(len(body))
        try:
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            answer_headers = {name: value for name, value in response.getheaders()
                              if name.lower() not in _HOP_BY_HOP}  # fmt: skip
            return InvokeAnswer(response.status, payload, answer_headers)
        finally:
            connection.close()

    def _answer(self, answer: InvokeAnswer) -> None:
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle


def main(argv: list[str] | None = None) -> int:
    """Serve the front until SIGTERM or SIGINT; then remove the containers it started."""
    parser = argparse.ArgumentParser(
        prog="python -m serverless_dl.aws.aws_front", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--moto", required=True, help="moto's endpoint URL")
    parser.add_argument("--registry", required=True, help="the local registry's host:port")
    parser.add_argument("--folder", type=Path, required=True, help="the account's folder")
    args = parser.parse_args(argv)
    front = Front(args.port, args.moto, args.registry, args.folder.resolve())

    def shut_down(signum, frame):
        threading.Thread(target=front.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    print(f"aws_front: http://127.0.0.1:{args.port} -> {args.moto}", flush=True)
    try:
        front.serve_forever()
    finally:
        front.functions.stop_all()
        front.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
