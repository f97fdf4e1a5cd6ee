"""The clothing classifier as an Azure Function (Python v2 programming model, HTTP trigger).

A thin adapter: it turns Azure's HttpRequest into the request the core reads (headers, a
base64 body) and the core's (status, document) into a JSON HttpResponse. The core is
lesson 04's lambda_function.py with lesson 05's image_source.py, copied in next to this
file by `python -m serverless_dl.clouds.other_clouds stage azure-functions`.
"""

import base64
import json

import azure.functions as func
from lambda_function import answer

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="predict", methods=["POST"])
def predict(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    """POST {"url": ...} or an image; answer the classification or the error as JSON."""
    core_request = {
        "version": "2.0",  # the core reads the HTTP request in API Gateway's v2 shape
        "requestContext": {"http": {"method": req.method}},
        "headers": dict(req.headers),
        "body": base64.b64encode(req.get_body()).decode("ascii"),
        "isBase64Encoded": True,
    }
    status, document = answer(core_request, context.invocation_id)
    return func.HttpResponse(json.dumps(document), status_code=status,
                             mimetype="application/json")
