"""The AWS path: the local account that stands in for AWS, and what the lessons deploy there.

Where the AWS lessons' commands go (`aws_target`); the local account (`local_account`,
with its processes in `aws_local` and its endpoint in `aws_front`); the names and tag of
what the course creates (`deploy`), deleting it again (`aws_clean`) and the IAM policy that
allows it (`course_policy`); Lambda's prices (`pricing`); and the SAM CLI (`sam_local`).

May import: serverless_dl.base, serverless_dl.function, serverless_dl.containers.
"""
