"""The course's homework: questions per learner, and a grader that computes its own key.

- `swatches`: the synthetic images (striped or dotted fabric swatches).
- `train`: trains the homework model (`make homework-model`).
- `convert`, `reference`: the TensorFlow-free reference pipeline behind every expected answer.
- `options`, `questions`: the personalised questions and their options;
  `costs` (q8, q10, q11) and `gateway` (q9) draw and answer the questions on the later lessons.
- `submissions`, `grading`: reading answers files and notebooks, grading them.
- `containers`: the homework base image and the learner's function image built on it.
- `container_run`: the container run a notebook records, and the grader's check of the
  exported handler under the Lambda emulator, without Docker.
- `page`: the generated part of homework/README.md (`make homework-page`).

The starter notebook needs only the names imported here.

May import: every other part.
"""

from serverless_dl.homework.questions import QUESTION_IDS, homework_for
from serverless_dl.homework.submissions import write_answers

__all__ = ["QUESTION_IDS", "homework_for", "print_questions", "write_answers"]


def print_questions(learner_id: str) -> None:
    """Print the questions of `learner_id`, or say how to get them when it is empty."""
    if not learner_id.strip():
        print("Write your learner id in the parameters cell, then run this cell again.")
        return
    print(homework_for(learner_id).render())
