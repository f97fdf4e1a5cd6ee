"""Course plumbing: the one place lessons get the services they need but never type.

A lesson shows the commands a learner types on a real account (`docker build`, `aws lambda
invoke`, ...); what it needs around them on this machine, a Docker engine, the local AWS
account, an emulator, a web server for the photos, comes from here. Each cell that uses one
of these is labelled **Course plumbing** and says which gap it fills. The implementations
live in the parts of the package named below; this module only gathers them.
"""

from serverless_dl.attacks.attack_lab import attack_lab
from serverless_dl.aws.aws_target import function_image_url, use_account
from serverless_dl.aws.local_account import record_push
from serverless_dl.aws.sam_local import LocalApi, open_stage
from serverless_dl.clouds.other_clouds import (
    azure_function,
    cloud_run_container,
    functions_framework_server,
    lambda_function,
)
from serverless_dl.containers.docker_engine import ensure_engine
from serverless_dl.containers.foreign_arch import import_arm64_entrypoint_image
from serverless_dl.containers.function_images import claim_published_port, serve_images_inside
from serverless_dl.containers.lambda_base import start_function
from serverless_dl.function.imageserver import serve_directory
from serverless_dl.function.lambda_local import local_function
from serverless_dl.lessons.catch_up import catch_up
from serverless_dl.web.web_page import serve_page, web_stack

__all__ = [
    "LocalApi",
    "attack_lab",
    "azure_function",
    "catch_up",
    "claim_published_port",
    "cloud_run_container",
    "ensure_engine",
    "function_image_url",
    "functions_framework_server",
    "import_arm64_entrypoint_image",
    "lambda_function",
    "local_function",
    "open_stage",
    "record_push",
    "serve_directory",
    "serve_images_inside",
    "serve_page",
    "start_function",
    "use_account",
    "web_stack",
]
