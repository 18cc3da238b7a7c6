# Signet: thin wrapper around CMake so the README's commands stay short.
#   make        build into build/
#   make run    install missing packages, build, create ./var/home, serve
#   make test   install, build, run every test (plain and ASan+UBSan builds,
#               then a short libFuzzer run of each parser)

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
HOME_DIR   ?= var/home
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all build deps run test test-plain test-asan fuzz bench bench-smoke clean format format-check checksrc

all: build

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@MAKEFLAGS= cmake --build $(BUILD) -j $(JOBS) -- --no-print-directory

# make install [PREFIX=/usr/local] [DESTDIR=]: programs, module, man pages
# and the systemd unit, from the build/ that `make build` made.
PREFIX ?= /usr/local
.PHONY: install
install:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@MAKEFLAGS= cmake --build $(BUILD) -j $(JOBS) -- --no-print-directory
	DESTDIR=$(DESTDIR) cmake --install $(BUILD)

deps:
	@scripts/deps.sh

# make run LISTEN=ADDR:PORT PUBLIC_LISTEN=ADDR:PORT|off PUBLIC_URL=http://HOST[:PORT]
# (README): a new home's listeners and the base URL its certificates name;
# for an existing home, listeners that override its settings.
LISTEN =
PUBLIC_LISTEN =
PUBLIC_URL =
run: deps build
	@scripts/run.sh $(BUILD) $(HOME_DIR) "$(LISTEN)" "$(PUBLIC_LISTEN)" "$(PUBLIC_URL)"

test: deps format-check checksrc test-plain test-asan fuzz

test-plain: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSIGNET_SANITIZE=ON -DSIGNET_TEST_STORE=postgresql >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS)

# libFuzzer drivers (clang, ASan+UBSan), each run briefly over its corpus.
fuzz:
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSIGNET_SANITIZE=ON -DSIGNET_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_codecs fuzz_pem_chain fuzz_config fuzz_p11_reply fuzz_subject fuzz_tsa_req fuzz_ocsp_req fuzz_router fuzz_bodies fuzz_keypolicy fuzz_jwt fuzz_oidc_reply fuzz_mtls fuzz_evidence fuzz_translog fuzz_proxyproto fuzz_ipc fuzz_headlines
	cd $(FUZZ_BUILD) && ctest --output-on-failure -j $(JOBS) -R '^fuzz/'

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	@clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h') && echo "format: ok"

# Banned calls, include layering between rooms, long functions (tools/checksrc);
# the self-test first shows the checker still rejects bad samples.
checksrc:
	@python3 tools/checksrc-selftest
	@python3 tools/checksrc


clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

# Throughput beside the HSM's own limit (docs/performance.md). BENCH_SECS per
# measurement; `make bench-smoke` is the seconds-long run CI makes.
BENCH_SECS ?= 10
bench: build
	bench/run.sh $(BUILD) $(BENCH_SECS)

bench-smoke: build
	bench/run.sh $(BUILD) 2 --smoke
