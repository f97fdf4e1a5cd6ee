#!/bin/sh
# Entry point of the offline Lambda Python stand-in image.
#
# Usage: /lambda-entrypoint.sh MODULE.FUNCTION   (the image's CMD gives it)
#
# Outside Lambda (AWS_LAMBDA_RUNTIME_API unset, e.g. `docker run -p 8080:8080`)
# it starts the Runtime Interface Emulator, which listens on 0.0.0.0:8080 and
# runs the runtime for each cold start. Inside Lambda, or under
# `sam local invoke` (whose own emulator sets AWS_LAMBDA_RUNTIME_API), it runs
# the runtime directly.
if [ "$#" -lt 1 ] || [ -z "$1" ]; then
    echo "lambda-entrypoint.sh: give the handler (module.function) as the image's CMD" >&2
    exit 142
fi
export _HANDLER="$1"

if [ -z "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
    exec /usr/local/bin/aws-lambda-rie /var/runtime/bootstrap "$_HANDLER"
else
    exec /var/runtime/bootstrap "$_HANDLER"
fi
