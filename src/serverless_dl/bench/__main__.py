"""`make bench`: measure the function on every runtime, side by side, and print the table.

Command line::

    python -m serverless_dl.bench [--quick] [--out DIR]

Writes `results.json`, `results.md` and four PNG plots into `--out`
(default `build/bench/results`; `make bench` writes the committed copy in
`benchmarks/`). Bundles, converted models and task roots are kept under
`build/bench/` and reused by later runs. The full run takes about a quarter
of an hour; `--quick` measures the course model in float32 on each runtime
once, with few invocations and no zipping, to check that everything works.
"""

from __future__ import annotations

import sys
from pathlib import Path

from serverless_dl.base.cli import OneLineErrorParser
from serverless_dl.base.paths import BUILD, in_repo
from serverless_dl.bench.plan import FULL, QUICK
from serverless_dl.bench.report import markdown, write_results
from serverless_dl.bench.run import FAILURES, run_benchmark

DEFAULT_OUT = BUILD / "bench" / "results"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark from the command line; return the exit code."""
    parser = OneLineErrorParser(
        prog="python -m serverless_dl.bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true",
                        help="a short run that checks the pipeline (the figures mean little)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="where to write the results (default build/bench/results)")
    args = parser.parse_args(argv)
    out = in_repo(args.out)
    if out.exists() and not out.is_dir():
        parser.error(f"--out {args.out} is a file, not a folder")
    try:
        document = run_benchmark(QUICK if args.quick else FULL)
    except FAILURES as error:
        parser.exit(1, f"{parser.prog}: error: {str(error).splitlines()[0]}\n")
    written = write_results(document, out)
    print()
    print(markdown(document))
    print(f"wrote {written['json']}, {written['markdown'].name} and "
          f"{len(written['plots'])} plots in {document['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
