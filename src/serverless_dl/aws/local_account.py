"""One local AWS account for the AWS lessons: started once, found again, stopped on request.

Offline (`aws_profile = ""`), lessons 07, 08, 10 and 11 share one account, as they
would share one on AWS: what lesson 07 creates, lesson 08 finds. The account
is three processes on 127.0.0.1 (see `serverless_dl.aws.aws_local`):

- moto, which answers the AWS APIs (ECR, IAM, Lambda, API Gateway, STS);
- Debian's docker-registry, where images are pushed;
- the front (`serverless_dl.aws.aws_front`), the endpoint every AWS call goes
  to: moto, with container-image invocations run by the real RIE.

They run detached, so they outlive the notebook kernel that started them, and
keep their files in the account's folder (the lesson parameter
`aws_local_dir`, by default `build/local-aws`):

- `account.json`: the ports and process ids; a later lesson finds the account here;
- `moto.log`, `registry.log`, `front.log`: what each process printed;
- `registry/`: the pushed images; `docker-config/`: Docker's login to the registry;
- `operations.jsonl`: every AWS operation the lessons called, in order.

moto keeps its state in memory, so stopping the account forgets its
resources, as deleting them on AWS would.

Command line (`make local-aws-stop` runs `stop`)::

    python -m serverless_dl.aws.local_account status|start|stop [--dir build/local-aws]

Whoever runs lessons headlessly stops the accounts they started:
`with accounts_started_inside(): ...` (`make course`, the test session).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import socket
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from serverless_dl.aws.aws_front import CONTAINER_LABEL, OPERATIONS_FILE
from serverless_dl.aws.aws_local import (
    FrontServer,
    LocalRegistry,
    LocalService,
    LocalServiceError,
    MotoServer,
)
from serverless_dl.base.environment_variables import changed_environment
from serverless_dl.base.paths import in_repo
from serverless_dl.base.processes import process_start_time, stop_detached
from serverless_dl.containers import docker_engine

DEFAULT_FOLDER = "build/local-aws"
STATE_FILE = "account.json"
ACCOUNT_ID = "123456789012"  # the account moto answers for
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# Names a file in which every account started by this process or its children is noted.
LEDGER_VARIABLE = "SERVERLESS_DL_LOCAL_AWS_LEDGER"
_STOP_ORDER = ("front", "moto", "registry")  # the front first: it removes its containers


class LocalAccountError(RuntimeError):
    """The local account cannot be started, found or used; the message says why in one line."""


@dataclass(frozen=True)
class LocalAccount:
    """A running local account: where its endpoint and registry answer, and its processes."""

    folder: Path
    front_port: int
    moto_port: int
    registry_port: int
    docker_host: str
    # name -> (pid, start time): together they name a process even after its pid is reused
    processes: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def endpoint_url(self) -> str:
        """Where every AWS call goes (`AWS_ENDPOINT_URL`): the front."""
        return f"http://127.0.0.1:{self.front_port}"

    @property
    def moto_url(self) -> str:
        """moto itself, behind the front."""
        return f"http://127.0.0.1:{self.moto_port}"

    @property
    def registry(self) -> str:
        """The registry's host:port, what `docker login` and `docker push` name."""
        return f"127.0.0.1:{self.registry_port}"

    @property
    def docker_config(self) -> Path:
        """Docker's settings for this account (`DOCKER_CONFIG`): its login stays here."""
        return self.folder / "docker-config"

    @property
    def operations_log(self) -> Path:
        """One JSON line per AWS operation the front saw."""
        return self.folder / OPERATIONS_FILE

    def is_running(self) -> bool:
        """True while every process of the account runs and the front accepts connections."""
        if set(self.processes) != set(_STOP_ORDER):
            return False
        if any(process_start_time(pid) != started for pid, started in self.processes.values()):
            return False
        try:
            with socket.create_connection(("127.0.0.1", self.front_port), timeout=1):
                return True
        except OSError:
            return False

    def operations(self) -> list[dict]:
        """The operations the front logged so far, in order."""
        if not self.operations_log.is_file():
            return []
        return [json.loads(line) for line in self.operations_log.read_text().splitlines() if line]


def account_folder(aws_local_dir: str | Path) -> Path:
    """The absolute folder of the account `aws_local_dir` names (repo-relative if relative)."""
    if not isinstance(aws_local_dir, (str, Path)) or not str(aws_local_dir).strip():
        raise LocalAccountError(f"aws_local_dir must name a folder, not {aws_local_dir!r}")
    folder = in_repo(str(aws_local_dir).strip()).resolve()
    if folder.exists() and not folder.is_dir():
        raise LocalAccountError(f"aws_local_dir {str(aws_local_dir)!r} is a file, not a folder")
    return folder


def _read_state(folder: Path) -> LocalAccount | None:
    try:
        state = json.loads((folder / STATE_FILE).read_text())
        state["processes"] = {name: tuple(value) for name, value in state["processes"].items()}
        return LocalAccount(**{**state, "folder": folder})
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _write_state(account: LocalAccount) -> None:
    state = {**asdict(account), "folder": str(account.folder)}
    partial = account.folder / f"{STATE_FILE}.partial"
    partial.write_text(json.dumps(state, indent=2) + "\n")
    partial.replace(account.folder / STATE_FILE)


def find_account(aws_local_dir: str | Path) -> LocalAccount | None:
    """The account running in `aws_local_dir`, or None."""
    account = _read_state(account_folder(aws_local_dir))
    return account if account is not None and account.is_running() else None


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One starter or stopper at a time per folder (two lessons may start at once)."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _start(folder: Path) -> LocalAccount:
    engine = docker_engine.ensure_engine()  # the registry and the front need one
    started: list[LocalService] = []
    try:
        registry = LocalRegistry(folder).start(detach=True)
        started.append(registry)
        moto = MotoServer(folder).start(detach=True)
        started.append(moto)
        front = FrontServer(folder, moto.url, registry.address).start(detach=True)
        started.append(front)
    except LocalServiceError as error:
        for service in started:
            service.stop()
        raise LocalAccountError(str(error)) from None
    account = LocalAccount(
        folder=folder,
        front_port=front.port,
        moto_port=moto.port,
        registry_port=registry.port,
        docker_host=engine.host,
        processes={
            service.name: (service.pid, process_start_time(service.pid)) for service in started
        },  # fmt: skip
    )
    for service in started:
        service.forget()  # from now on the account, not this object, stops them
    _write_state(account)
    ledger = os.environ.get(LEDGER_VARIABLE)
    if ledger:
        with open(ledger, "a") as notes:
            notes.write(f"{folder}\n")
    return account


def ensure_account(aws_local_dir: str | Path) -> tuple[LocalAccount, bool]:
    """The account running in `aws_local_dir`, started if none runs; and whether it was started."""
    folder = account_folder(aws_local_dir)
    with _locked(folder):
        account = _read_state(folder)
        if account is not None and account.is_running():
            return account, False
        if account is not None:  # what is left of an account whose processes died
            _stop(account)
        return _start(folder), True


def _stop(account: LocalAccount) -> None:
    for name in _STOP_ORDER:
        if name in account.processes:
            stop_detached(*account.processes[name])
    if docker_engine.answers(account.docker_host):
        os.environ["DOCKER_HOST"] = account.docker_host
        _remove_containers(account.folder)
        _forget_local_tags(account.registry)
    (account.folder / STATE_FILE).unlink(missing_ok=True)


def _remove_containers(folder: Path) -> None:
    """Remove the function containers the front of this account started (if it could not)."""
    listed = docker_engine.docker(
        "ps", "--all", "--quiet", "--filter", f"label={CONTAINER_LABEL}={folder}", check=False
    ).stdout.split()
    if listed:
        docker_engine.docker("rm", "--force", *listed, check=False)


def _forget_local_tags(registry: str) -> None:
    """Untag the images named after this registry (`docker tag`, the front's pulls).

    Their layers stay: they are shared with the images they were tagged from.
    """
    names = docker_engine.docker(
        "image", "ls", "--format", "{{.Repository}}:{{.Tag}}",
        "--filter", f"reference={registry}/*", check=False,
    ).stdout.split()  # fmt: skip
    digests = docker_engine.docker(
        "image", "ls", "--digests", "--format", "{{.Repository}}@{{.Digest}}",
        "--filter", f"reference={registry}/*", check=False,
    ).stdout.split()  # fmt: skip
    references = [name for name in names if not name.endswith(":<none>")]
    references += [name for name in digests if not name.endswith("@<none>")]
    if references:
        docker_engine.docker("image", "rm", *references, check=False)


def stop_account(aws_local_dir: str | Path) -> bool:
    """Stop the account in `aws_local_dir`, remove its containers; False if none was there."""
    folder = account_folder(aws_local_dir)
    if not (folder / STATE_FILE).is_file():
        return False
    with _locked(folder):
        account = _read_state(folder)
        if account is None:
            (folder / STATE_FILE).unlink(missing_ok=True)
            return False
        _stop(account)
    return True


@contextlib.contextmanager
def accounts_started_inside() -> Iterator[None]:
    """Stop, on leaving, every local account this process or its children start meanwhile.

    Children (papermill and nbval kernels) inherit a variable that names a
    ledger, in which `ensure_account` notes each account it starts. An
    account someone else started is left alone.
    """
    with tempfile.TemporaryDirectory(prefix="local-aws-") as temporary:
        ledger = Path(temporary) / "started"
        ledger.touch()
        try:
            with changed_environment({LEDGER_VARIABLE: str(ledger)}):
                yield
        finally:
            for folder in dict.fromkeys(ledger.read_text().split()):
                stop_account(folder)


def record_push(aws_local_dir: str | Path, repository: str, tag: str) -> str:
    """Course plumbing: tell moto's ECR about an image pushed to the local registry.

    On AWS, ECR registers a push itself. Here the image went to the local
    registry, which moto does not see; this sends moto ECR's `PutImage` with
    the manifest exactly as it was pushed (through the front, with the
    lesson's region and credentials). Returns one line saying what ECR lists.
    """
    import boto3

    account = find_account(aws_local_dir)
    if account is None:
        raise LocalAccountError(f"no local account runs in {aws_local_dir}; run the settings cell")
    try:
        manifest = LocalRegistry(account.folder, port=account.registry_port).manifest(
            repository, tag
        )
    except LocalServiceError as error:
        raise LocalAccountError(f"{error}; push it first") from None
    ecr = boto3.client("ecr", endpoint_url=account.endpoint_url)
    with contextlib.suppress(ecr.exceptions.ImageAlreadyExistsException):
        ecr.put_image(
            repositoryName=repository,
            imageManifest=manifest.body.decode(),
            imageManifestMediaType=manifest.media_type,
            imageTag=tag,
            imageDigest=manifest.digest,
        )
    return f"ECR now lists {repository}:{tag} as {manifest.digest}"


def main(argv: list[str] | None = None) -> int:
    """`python -m serverless_dl.aws.local_account status|start|stop [--dir FOLDER]`."""
    parser = argparse.ArgumentParser(
        prog="python -m serverless_dl.aws.local_account",
        description="The local AWS account of the AWS lessons (moto, a registry, the front).",
    )
    parser.add_argument("action", choices=["status", "start", "stop"])
    parser.add_argument(
        "--dir", default=DEFAULT_FOLDER,
        help=f"the account's folder: the lessons' aws_local_dir (default {DEFAULT_FOLDER})",
    )  # fmt: skip
    args = parser.parse_args(argv)
    try:
        if args.action == "stop":
            stopped = stop_account(args.dir)
            print(f"stopped the local account in {args.dir}" if stopped
                  else f"no local account runs in {args.dir}")  # fmt: skip
            return 0
        if args.action == "start":
            account, started = ensure_account(args.dir)
        else:
            account, started = find_account(args.dir), False
            if account is None:
                print(f"no local account runs in {args.dir}")
                return 1
        print(f"{'started' if started else 'running'}: endpoint {account.endpoint_url}, "
              f"registry {account.registry}, folder {args.dir}")  # fmt: skip
        return 0
    except (LocalAccountError, docker_engine.DockerUnavailable) as error:
        parser.exit(1, f"error: {error}\n")


if __name__ == "__main__":
    sys.exit(main())
