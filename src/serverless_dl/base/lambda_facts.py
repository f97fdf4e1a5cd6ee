"""Facts about AWS Lambda and the course's function that several layers of the package share.

Lambda's size limits and runtime operating systems, and the handler's
loopback switch, are needed by the zip bundle, the benchmark, the AWS
stand-ins and the local runners alike. They live here, in a module that
imports nothing, so that none of those layers has to import another only
for a constant.
"""

MB = 1024 * 1024  # Lambda's MB, in its limits and in its memory setting
ZIPPED_LIMIT_BYTES = 50 * MB  # a .zip uploaded directly (CreateFunction, UpdateFunctionCode)
UNZIPPED_LIMIT_BYTES = 250 * MB  # everything in /var/task plus layers
AMAZON_LINUX_2_GLIBC = (2, 26)  # the python3.11 runtime's operating system
AMAZON_LINUX_2023_GLIBC = (2, 34)  # python3.12 and later

# The handler refuses URLs that resolve to loopback addresses (SSRF guard).
# Local tests serve images from 127.0.0.1, so they must opt in explicitly.
ALLOW_LOOPBACK = {"ALLOW_LOOPBACK_URLS": "1"}
