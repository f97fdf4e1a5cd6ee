"""The backbone as a function: an image in, its feature vector out (lesson 11).

Lesson 04's handler, imported, loads MODEL_PATH (here the backbone) once and knows the
preprocessing; this module only changes what is computed and answered. The answer,
{"features": [...], "model_version": ...}, is the event a head function takes.
"""

import lambda_function as single  # the handler of lesson 04: interpreter, preprocessor, respond
from answers import answer

from image_source import image_from_event


def features(image):
    """The backbone's output for a Pillow image, as plain floats that JSON can carry."""
    single.interpreter.set_tensor(single.INPUT_INDEX, single.preprocessor.convert_to_tensor(image))
    single.interpreter.invoke()
    vector = single.interpreter.get_tensor(single.OUTPUT_INDEX)[0]
    return {"features": [float(value) for value in vector], "model_version": single.MODEL_VERSION}


def lambda_handler(event, context):
    """Entry point for Lambda: the features of the image the event points to; never raise."""
    status, document = answer(
        lambda request, stats: features(image_from_event(request, stats)),
        event,
        getattr(context, "aws_request_id", None),
        single.MODEL_VERSION,
    )
    return single.respond(event, status, document)
