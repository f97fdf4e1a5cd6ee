"""Lesson 12: the same core behind Google Cloud's and Azure's adapters, run here.

`other_clouds` stages each adapter of `clouds/` with the core and runs it the way its
provider does (the Functions Framework, a Cloud Run container); `azure_local` calls an Azure
Functions app's function without the Functions host.

May import: serverless_dl.base, serverless_dl.function, serverless_dl.containers.
"""
