"""The Serverless Deep Learning course's package: what the lessons, tools and tests share.

Each part is a subpackage, in layers; each may import only the parts its docstring's
"May import:" line names (tests/test_package_layout.py checks it):

- `base`: small tools with no knowledge of the course (paths, commands, processes).
- `function`: running the exported function on this machine as Lambda would.
- `data`: the clothing dataset and every model file generated from it.
- `attacks`: hostile servers and a pretend internet for lesson 05 and the tests.
- `containers`: the Docker engine, the Lambda base images, the function's images.
- `aws`: the local AWS account, what the lessons deploy there, and cleaning up.
- `web`: lesson 09's page, its FastAPI variant and a real browser.
- `clouds`: lesson 12's adapters for Google Cloud and Azure, run here.
- `lessons`: the course as a whole: the lesson list, running lessons, exports, the site.
- `bench`: the benchmark behind lesson 13 (`make bench`).
- `homework`: the personalised homework and its grader.

Lessons import the helpers they show from these parts, and every service they start but
never type (an engine, the local account, an emulator, a web server) from one module,
`serverless_dl.plumbing`.
"""
