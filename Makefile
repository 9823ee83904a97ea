# The two commands of the README. `make example` builds everything and runs the phishing chain
# job on its recorded topic; `make test` runs every test (what CI runs).

.PHONY: example test setup

setup:
	@scripts/setup.sh

example: setup
	cargo run -q -p eddy -- run examples/phishing-chain/job.toml

test:
	@scripts/setup.sh --tests
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo test --workspace -- --skip kafka_exactly_once:: --skip kafka_faults:: --skip kafka_group:: --skip kafka_replays:: --skip kafka_secure::
	# The tests against a real broker start eddy processes and brokers: one at a time.
	cargo test -p eddy-tests --test all kafka_ -- --test-threads=1
	# The vector-store example against a real LanceDB (installed into target/vector-store-venv).
	examples/vector-store/test.sh
	host/flink/build-and-test.sh
	host/kafka-streams/build-and-test.sh
