"""The course as a whole: its lessons, how they run, and what is generated from them.

The list of lessons (`syllabus`), executing them (`notebooks`) and the whole course
(`course`, `make course`), exporting the handler from its notebooks (`export`), catching up
on an earlier lesson (`catch_up`), and the course as a website (`site`, `sphinx_anchors`).

May import: every other part except serverless_dl.bench and serverless_dl.homework.
"""
