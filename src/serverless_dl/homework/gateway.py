"""q9: what API Gateway answers a request to lesson 08's API, by the rules that lesson teaches.

The API is read from `docker/template.yaml`, the SAM template of lesson 08:
its stage, its one route (method and path), the API key it requires and the
usage plan's throttle and quota. `gateway_answer` applies API Gateway's checks
in the order they run, before the function is ever called:

1. no route for the method, path and stage: 403 "Missing Authentication Token";
2. no `x-api-key` header, or a key the usage plan does not know: 403 "Forbidden";
3. over the usage plan's quota: 429 "Limit Exceeded";
   over its throttle (more requests at once than the burst): 429 "Too Many Requests";
4. otherwise the request reaches the function, whose status and body come back as they are.

The messages are API Gateway's default gateway responses (INVALID_API_KEY,
MISSING_AUTHENTICATION_TOKEN, QUOTA_EXCEEDED, THROTTLED) for a REST API.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from serverless_dl.base.paths import DOCKER
from serverless_dl.function.zip_bundle import function_properties

TEMPLATE = DOCKER / "template.yaml"
API_RESOURCE = "ClothingApi"
FUNCTION_RESOURCE = "ClothingFunction"

MISSING_TOKEN = '403 {"message":"Missing Authentication Token"}'
FORBIDDEN = '403 {"message":"Forbidden"}'
LIMIT_EXCEEDED = '429 {"message":"Limit Exceeded"}'
TOO_MANY_REQUESTS = '429 {"message":"Too Many Requests"}'
FUNCTION_ANSWER = "the function's own status and body, passed through"
# API Gateway's answers in other set-ups (authorizers, integration errors): never right here.
DISTRACTORS = ('401 {"message":"Unauthorized"}', '502 {"message":"Internal server error"}')
ANSWERS = (MISSING_TOKEN, FORBIDDEN, LIMIT_EXCEEDED, TOO_MANY_REQUESTS, FUNCTION_ANSWER)

VALID_KEY, NO_KEY, UNKNOWN_KEY = "the key of the usage plan", "no x-api-key header", "unknown"
Draw = Callable[[str, int], int]


@dataclass(frozen=True)
class Api:
    """Lesson 08's REST API: one route on one stage, an API key, a usage plan."""

    stage: str
    method: str
    path: str
    rate_limit: int
    burst_limit: int
    quota: int
    quota_period: str

    def describe(self) -> str:
        """The API in one sentence."""
        return (
            f"{self.method} {self.path} on stage {self.stage}, an API key required, and a "
            f"usage plan of {self.rate_limit} requests per second (bursts of "
            f"{self.burst_limit}) and {self.quota:,} requests a {self.quota_period.lower()}"
        )


@functools.cache
def lesson_api() -> Api:
    """The API that lesson 08's template declares."""
    api = function_properties(TEMPLATE, API_RESOURCE)
    route = function_properties(TEMPLATE, FUNCTION_RESOURCE)["Events"]["Predict"]["Properties"]
    plan = api["Auth"]["UsagePlan"]
    return Api(
        stage=api["StageName"],
        method=route["Method"].upper(),
        path=route["Path"],
        rate_limit=int(plan["Throttle"]["RateLimit"]),
        burst_limit=int(plan["Throttle"]["BurstLimit"]),
        quota=int(plan["Quota"]["Limit"]),
        quota_period=plan["Quota"]["Period"],
    )


@dataclass(frozen=True)
class GatewayRequest:
    """A request to the API's stage URL, and where it stands against the usage plan."""

    method: str
    path: str  # after the host: /<stage>/<resource>
    api_key: str  # VALID_KEY, NO_KEY or UNKNOWN_KEY
    request_this_period: int  # this is the key's n-th request of the quota period
    at_once: int  # this request is the last of so many sent in the same instant

    def describe(self, api: Api) -> str:
        """The request as the question shows it."""
        key = {
            VALID_KEY: "x-api-key: the key of the usage plan",
            NO_KEY: "no x-api-key header",
            UNKNOWN_KEY: "x-api-key: a key that belongs to no usage plan of this API",
        }[self.api_key]
        period = api.quota_period.lower()
        crowd = (
            f"the last of {self.at_once} sent at the same instant"
            if self.at_once > 1
            else "sent on its own"
        )
        return (
            f"{self.method} https://<api-id>.execute-api.us-east-1.amazonaws.com{self.path} "
            f'with {key} and the body {{"url": "https://images.example.com/swatch.jpg"}}; '
            f"it is request {self.request_this_period:,} of this {period} for its key, {crowd}"
        )


def gateway_answer(request: GatewayRequest, api: Api) -> str:
    """What API Gateway answers `request`, by the checks of the module docstring, in order."""
    if (request.method, request.path) != (api.method, f"/{api.stage}{api.path}"):
        return MISSING_TOKEN
    if request.api_key != VALID_KEY:
        return FORBIDDEN
    if request.request_this_period > api.quota:
        return LIMIT_EXCEEDED
    if request.at_once > api.burst_limit:
        return TOO_MANY_REQUESTS
    return FUNCTION_ANSWER


def gateway_request(draw: Draw, api: Api) -> GatewayRequest:
    """The learner's request: one of the situations lesson 08 discusses, with personal figures."""
    route = f"/{api.stage}{api.path}"
    within_quota = 1 + draw("q9-count", 0) % api.quota
    within_burst = 1 + draw("q9-at-once", 0) % api.burst_limit
    situations = [
        (api.method, route, NO_KEY, within_quota, within_burst),
        (api.method, route, UNKNOWN_KEY, within_quota, within_burst),
        ("GET", route, VALID_KEY, within_quota, within_burst),  # a browser's request
        (api.method, f"{route}s", VALID_KEY, within_quota, within_burst),  # a typo
        (api.method, route, VALID_KEY, api.quota + 1 + draw("q9-over", 0) % 500, 1),
        (api.method, route, VALID_KEY, within_quota, 3 * api.burst_limit),
        (api.method, route, VALID_KEY, within_quota, within_burst),
    ]
    method, path, key, count, at_once = situations[draw("q9-situation", 0) % len(situations)]
    return GatewayRequest(method, path, key, count, at_once)
