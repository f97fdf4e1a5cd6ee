"""Lesson 09's web page: the page served on its own origin, the FastAPI variant, a browser.

`web_page` serves `web/` and drives it in Chromium against `sam local start-api`;
`web_framework` compares the plain handler with the FastAPI app; `browser` starts Debian's
Chromium through Playwright for the tests and the screenshots.

May import: serverless_dl.base, serverless_dl.function, serverless_dl.containers,
serverless_dl.aws.
"""
