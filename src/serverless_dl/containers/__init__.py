"""Container images: the Docker engine, the Lambda base images, the function's images.

`docker_engine` finds or starts the engine the course uses; `lambda_base` builds offline
stand-ins for the AWS Lambda Python base images; `function_images` builds, measures and
runs the course's function images as Lambda would; `foreign_arch` shows an image built for
the other CPU.

May import: serverless_dl.base, serverless_dl.function, serverless_dl.attacks.
"""
