# The two commands of the README. `make example` builds everything and runs the phishing
# job on its recorded topic; `make test` runs every test (what CI runs).

.PHONY: example test setup

setup:
	@scripts/setup.sh

example: setup
	cargo run -q -p eddy -- run examples/phishing/job.toml

test:
	@scripts/setup.sh --tests
	cargo test --workspace
	host/flink/build-and-test.sh
