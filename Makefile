# Serverless Deep Learning: every command a learner or instructor needs.
# `make course` runs the whole course; `make test` runs the test suite.
# Both create the repo-local environments on first use.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
VENVS := .venvs

COURSE_ENV := $(VENV)/.installed
CLASSIC_ENV := $(VENVS)/lambda-classic/.installed
MODERN_ENV := $(VENVS)/lambda-modern/.installed
ONNX_ENV := $(VENVS)/lambda-onnx/.installed
AWS_ENV := $(VENVS)/aws/.installed
CLOUDS_ENV := $(VENVS)/clouds/.installed
SITE_ENV := $(VENVS)/site/.installed
ENVIRONMENTS := $(COURSE_ENV) $(CLASSIC_ENV) $(MODERN_ENV) $(ONNX_ENV) $(AWS_ENV) $(CLOUDS_ENV) $(SITE_ENV)

.DEFAULT_GOAL := help
.PHONY: help setup course test test-quick lab model export nav notebooks docker-base clouds-stage lint clean
.PHONY: grade export-homework homework-model homework-page bench zip site site-screenshot
.PHONY: web-screenshot successor-model composition

help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

setup: $(ENVIRONMENTS) ## Create the course, Lambda and AWS-tool environments

course: setup ## Run the whole course end to end and print a summary
	$(PY) -m serverless_dl.lessons.course

# The linter runs inside the suite (tests/lessons/test_lint.py), so a lint failure fails `make test`.
test: setup ## Run the test suite and the linter (PYTEST_ARGS="-k homework" to pass pytest options)
	$(PY) -m pytest $(PYTEST_ARGS)

# The markers are set in tests/conftest.py; `make test` still runs every test.
test-quick: setup ## Run the tests that need neither Docker nor a model retrain, for the edit-test loop
	$(PY) -m pytest -m "not docker and not retrain" $(PYTEST_ARGS)

# Jupyter refuses to start as root (containers, CI shells) unless told it is deliberate.
LAB_ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

# Rooted at the repository so the lessons, the written lessons and the homework are all
# reachable; it opens on the notebooks folder.
lab: setup ## Open JupyterLab on the repository (lessons, written lessons, homework)
	$(VENV)/bin/jupyter lab --notebook-dir=. --LabApp.default_url=/lab/tree/notebooks $(LAB_ROOT_FLAG)

model: setup ## Regenerate last week's model, its TFLite variants, its ONNX file, lesson 11's backbone and heads, the sample images
	$(PY) -m serverless_dl.lessons.notebooks refresh 00-last-weeks-model 02-tensorflow-lite
	$(PY) -m serverless_dl.data.onnx_model
	$(PY) -m serverless_dl.data.composition

composition: setup ## Regenerate lesson 11's backbone and heads (models/clothing-backbone, -head, -fabric-head)
	$(PY) -m serverless_dl.data.composition

successor-model: setup ## Retrain the successor of last week's model on twice the images (lesson 10, five to ten minutes)
	$(PY) -m serverless_dl.data.successor_model

export: setup ## Regenerate docker/lambda_function.py (lesson 04), docker/image_source.py (05), docker/onnx/lambda_function.py (03)
	$(PY) -m serverless_dl.lessons.export

nav: setup ## Regenerate the README's lesson table and every Previous/Next link from the lesson list
	$(PY) -m serverless_dl.lessons.syllabus

notebooks: setup ## Re-execute the lessons in place so their committed outputs are current
	$(PY) -m serverless_dl.lessons.notebooks refresh

docker-base: setup ## Build offline stand-ins for the AWS Lambda Python base images if they cannot be pulled
	$(PY) -m serverless_dl.containers.lambda_base

clouds-stage: setup ## Assemble lesson 12's adapters with the core for deploying, into build/clouds/
	for adapter in google-functions cloud-run azure-functions; do \
		$(PY) -m serverless_dl.clouds.other_clouds stage $$adapter || exit 1; done

bench: setup ## Measure cold start, latency, memory, size and cost on every runtime (about 15 minutes) into benchmarks/
	$(PY) -m serverless_dl.bench --out benchmarks

zip: setup ## Build build/zip/function.zip for the python3.11 runtime, check its size, run it under the RIE
	$(PY) -m serverless_dl.function.zip_bundle

site: $(COURSE_ENV) $(SITE_ENV) ## Build the course as a website into build/site (offline) and print its index page
	$(PY) -m serverless_dl.lessons.site build

site-screenshot: site ## Regenerate images/site/lesson-page.png: a lesson page of the site in headless Chromium
	$(PY) -m serverless_dl.lessons.site screenshot

web-screenshot: setup ## Regenerate images/web/page-*.png: lesson 09's page in headless Chromium, desktop and phone
	$(PY) -m serverless_dl.web.web_page screenshot

ANSWERS ?= homework/answers.yaml

# Notebooks run in the grader's sandbox (bubblewrap); UNSANDBOXED=1 runs them as you, for your own.
GRADE_FLAGS := $(if $(UNSANDBOXED),--unsandboxed)

grade: setup ## Grade the homework: ANSWERS=file (.yaml or .ipynb, default homework/answers.yaml), or SUBMISSIONS=folder [UNSANDBOXED=1]
	@$(if $(SUBMISSIONS),$(PY) -m serverless_dl.homework grade-all "$(SUBMISSIONS)" $(GRADE_FLAGS),$(PY) -m serverless_dl.homework grade "$(ANSWERS)" $(GRADE_FLAGS))

export-homework: setup ## Export your homework handler: the cells of homework/homework.ipynb tagged export
	$(PY) -m serverless_dl.lessons.export --notebook homework/homework.ipynb --target homework/lambda_function.py

homework-model: setup ## Redraw the homework images and retrain the homework model (about two minutes)
	$(PY) -m serverless_dl.homework.train

homework-page: setup ## Regenerate the generated part of homework/README.md from the homework model
	$(PY) -m serverless_dl.homework page

lint: setup ## Lint the Python code alone (`make test` runs it too)
	$(VENV)/bin/ruff check .

clean: ## Remove run outputs (keeps the environments)
	-@[ ! -x $(PY) ] || $(PY) -m serverless_dl.aws.local_account stop --dir "$(AWS_LOCAL_DIR)"
	rm -rf build

# AWS_PROFILE and AWS_REGION default to the environment's; see lessons/deploy.md.
.PHONY: aws-clean
aws-clean: $(COURSE_ENV) ## Delete what the course created on AWS: AWS_PROFILE=name [AWS_REGION=eu-west-1] [DRY_RUN=1]
	@$(PY) -m serverless_dl.aws.aws_clean $(if $(AWS_PROFILE),--profile "$(AWS_PROFILE)") \
		$(if $(AWS_REGION),--region "$(AWS_REGION)") $(if $(DRY_RUN),--dry-run)

# The local AWS account of lessons 07 and 08 keeps running between lessons, as an AWS account would.
AWS_LOCAL_DIR ?= build/local-aws
.PHONY: local-aws-stop
local-aws-stop: $(COURSE_ENV) ## Stop the local AWS account of lessons 07-08 and forget its resources (AWS_LOCAL_DIR=build/local-aws)
	@$(PY) -m serverless_dl.aws.local_account stop --dir "$(AWS_LOCAL_DIR)"

# --- Environments: each is rebuilt when its requirement files change ---

$(COURSE_ENV): requirements/course.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/course.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# The Lambda environments hold exactly what runs inside Lambda, plus the
# runtime interface client that the AWS base images provide.
$(VENVS)/lambda-%/.installed: requirements/lambda-%.txt requirements/lambda-runtime.txt
	$(PYTHON) -m venv $(VENVS)/lambda-$*
	$(VENVS)/lambda-$*/bin/python -m pip install --quiet \
		-r requirements/lambda-$*.txt -r requirements/lambda-runtime.txt
	touch $@

$(AWS_ENV): requirements/aws-tools.txt
	$(PYTHON) -m venv $(VENVS)/aws
	$(VENVS)/aws/bin/python -m pip install --quiet -r requirements/aws-tools.txt
	touch $@

# Lesson 12's local runners of other clouds' adapters (functions-framework, azure-functions)
# with the same TensorFlow-free core as lambda-modern.
$(CLOUDS_ENV): requirements/clouds.txt
	$(PYTHON) -m venv $(VENVS)/clouds
	$(VENVS)/clouds/bin/python -m pip install --quiet -r requirements/clouds.txt
	touch $@

# Jupyter Book 1 and Sphinx, apart from the course's packages (`make site`).
$(SITE_ENV): requirements/site.txt
	$(PYTHON) -m venv $(VENVS)/site
	$(VENVS)/site/bin/python -m pip install --quiet -r requirements/site.txt
	touch $@
