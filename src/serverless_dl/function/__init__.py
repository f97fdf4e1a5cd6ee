"""Running the exported function on this machine, as Lambda would run it.

The Python environments of the Lambda runtimes (`envs`), the real Runtime Interface
Emulator (`rie`), the exported handler laid out in a task root (`lambda_local`) or
imported afresh (`handler_modules`), a client that asks it about an image (`client`), a
web server for images on 127.0.0.1 (`imageserver`), inputs given as a path or a URL
(`sources`), the soak test (`soak`) and the .zip package (`zip_bundle`).

May import: serverless_dl.base.
"""
