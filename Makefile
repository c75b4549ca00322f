# Two entry points, each of which bootstraps a fresh machine (scripts/setup.sh is idempotent).
.PHONY: setup demo test
setup:
	bash scripts/setup.sh
demo:
	bash scripts/demo.sh
test:
	bash scripts/test.sh
