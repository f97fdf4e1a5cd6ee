"""Small tools every other part of the package uses, with no knowledge of the course.

Where the repository's folders are (`paths`), how a command-line tool reports a bad
argument (`cli`), running a command and a background service (`commands`, `processes`),
redirecting a process's output for a while (`descriptors`), and the version check at the
top of every lesson (`environment`).

May import: nothing else of serverless_dl.
"""
