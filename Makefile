# libwsclient: build, demo, test, install. Needs only cargo and a C toolchain
# to build; the tests also use python3 (a venv is made under .venv).

PREFIX      ?= /usr/local
LIBDIR      ?= $(PREFIX)/lib
BINDIR      ?= $(PREFIX)/bin
INCLUDEDIR  ?= $(PREFIX)/include
PKGCONFIGDIR?= $(LIBDIR)/pkgconfig
MANDIR      ?= $(PREFIX)/share/man
DESTDIR     ?=

VERSION   := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
MAJOR     := $(word 1,$(subst ., ,$(VERSION)))
MINOR     := $(word 2,$(subst ., ,$(VERSION)))
SOVERSION := $(if $(filter 0,$(MAJOR)),0.$(MINOR),$(MAJOR))
SONAME    := libwsclient.so.$(SOVERSION)

CARGO   ?= cargo
CC      ?= cc
CXX     ?= c++
CXXFLAGS?= -O2 -g
STRIP   ?= strip
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Werror
BUILD   := build
# cargo's output folder (CARGO_TARGET_DIR when set, as cargo does).
TARGET  := $(or $(CARGO_TARGET_DIR),target)
LIB     := $(BUILD)/lib
MAN     := $(BUILD)/man/man3
VENV    := .venv
PY      := $(VENV)/bin/python
EXAMPLES:= $(BUILD)/examples/echo_client $(BUILD)/examples/autobahn_client \
           $(BUILD)/examples/poll_client $(BUILD)/examples/duplex_client \
           $(BUILD)/examples/reconnect_client
TOOLS   := $(BUILD)/bin/wsclient-cat
CPP     := $(BUILD)/examples-cpp/echo_client $(BUILD)/tests/test_wsclient_cpp
CTESTS  := $(BUILD)/tests/test_api $(BUILD)/tests-plain/test_api $(BUILD)/tests/test_proxy \
           $(BUILD)/tests/test_connect_start $(BUILD)/tests/test_trace $(BUILD)/tests/test_transport
# The small-message benchmark's clients and server (tests/integration runs
# its harness once, briefly).
PEERS   := $(TARGET)/bench-peers/release/tungstenite_client
SMALL_BENCH := $(BUILD)/benches/small_client $(BUILD)/benches/small_server $(PEERS)

export WSCLIENT_LIBRARY := $(CURDIR)/$(LIB)/$(SONAME)
export WSCLIENT_BUILD   := $(CURDIR)/$(BUILD)
export WSCLIENT_PYTHON  := $(CURDIR)/$(PY)

.PHONY: all lib examples tools cpp header demo test test-rust test-c test-python \
        test-chicken man check check-c check-python autobahn-quick autobahn autobahn-poll autobahn-parts autobahn-transport autobahn-python autobahn-python-asyncio \
        autobahn-chicken autobahn-proxy autobahn-proxy-quick conformance venv install uninstall \
        bench bench-scale bench-small clean dist lint licenses package package-debs debian-symbols fuzz \
        fuzz-smoke fuzz-tool stress abi-check abi-baseline wheel egg autobahn-halves autobahn-c-12 \
        autobahn-c-other

all: lib examples man tools cpp

# The Rust core as libwsclient.so.X.Y (SONAME, symlinks, versioned ws_*
# symbols) and a .a exporting only ws_*, both made from cargo's staticlib by
# scripts/link-lib.sh (see there why not cargo's cdylib).
lib:
	$(CARGO) build --release --lib
	sh scripts/link-lib.sh $(TARGET)/release/libwsclient.a $(LIB) $(VERSION) $(SONAME)
	ln -sf libwsclient.so.$(VERSION) $(LIB)/$(SONAME)
	ln -sf $(SONAME) $(LIB)/libwsclient.so

# What install needs: built once by `make`, never rebuilt by install.
$(LIB)/libwsclient.so.$(VERSION) $(LIB)/libwsclient.a:
	$(MAKE) --no-print-directory lib

# PKG: the pkg-config name of the event library an example uses, if any.
$(BUILD)/examples/%: examples-c/%.c include/wsclient.h lib
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Iinclude $(if $(PKG),$$(pkg-config --cflags $(PKG))) $< -L$(LIB) -lwsclient \
	  -Wl,-rpath,$(CURDIR)/$(LIB) -pthread $(if $(PKG),$$(pkg-config --libs $(PKG))) -o $@

# The event-library examples are built when pkg-config finds their library
# (Debian: libuv1-dev, libevent-dev, libglib2.0-dev); without it `make`
# says which it left out and builds the rest.
EVENT_LIBS  := libuv libevent glib-2.0
EVENT_FOUND := $(shell for p in $(EVENT_LIBS); do pkg-config --exists $$p 2>/dev/null && echo $$p; done)
event_example = $(if $(filter $(2),$(EVENT_FOUND)),$(BUILD)/examples/$(1))
EVENT_EXAMPLES := $(call event_example,libuv_client,libuv) $(call event_example,libevent_client,libevent) \
                  $(call event_example,glib_client,glib-2.0)
$(BUILD)/examples/libuv_client:    PKG := libuv
$(BUILD)/examples/libevent_client: PKG := libevent
$(BUILD)/examples/glib_client:     PKG := glib-2.0

examples: $(EXAMPLES) $(EVENT_EXAMPLES)
ifneq ($(filter-out $(EVENT_FOUND),$(EVENT_LIBS)),)
	@echo "note: examples for $(filter-out $(EVENT_FOUND),$(EVENT_LIBS)) not built: pkg-config does not" \
	  "find them (Debian: apt-get install -y libuv1-dev libevent-dev libglib2.0-dev)"
endif

# Command-line tools, on the public C API only.
$(BUILD)/bin/%: tools/%.c include/wsclient.h lib
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Iinclude $< -L$(LIB) -lwsclient -Wl,-rpath,$(CURDIR)/$(LIB) -o $@

# wsclient-cat as installed: no build-tree RUNPATH. When LIBDIR is not a
# directory the dynamic linker searches anyway, RUNPATH $ORIGIN/ and the way
# from BINDIR to LIBDIR (e.g. $ORIGIN/../lib), so the tree may move; none
# for a system LIBDIR (lintian refuses a RUNPATH in /usr/bin). Each RUNPATH
# is linked into a file of its own: an install never takes what an earlier
# install with other directories linked.
SYSTEM_LIBDIRS := /usr/lib /lib /usr/lib/% /lib/% /usr/local/lib
INSTALL_LIBDIR_REL := $(if $(filter $(SYSTEM_LIBDIRS),$(LIBDIR)),,$(shell realpath -m -s --relative-to=$(BINDIR) $(LIBDIR)))
INSTALL_TOOL := $(BUILD)/install/$(if $(INSTALL_LIBDIR_REL),rpath-$(subst /,-,$(INSTALL_LIBDIR_REL)),no-rpath)/wsclient-cat
comma := ,
INSTALL_RPATH = $(if $(INSTALL_LIBDIR_REL),-Wl$(comma)-rpath$(comma)'$$ORIGIN/$(INSTALL_LIBDIR_REL)')
$(INSTALL_TOOL): tools/wsclient-cat.c include/wsclient.h $(LIB)/libwsclient.so.$(VERSION)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Iinclude $< -L$(LIB) -lwsclient $(INSTALL_RPATH) -o $@

tools: $(TOOLS) $(INSTALL_TOOL)

# The header-only C++17 API: its example, and its tests under ASan/UBSan.
$(BUILD)/examples-cpp/%: examples-cpp/%.cpp include/wsclient.hpp include/wsclient.h lib
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 $(CXXFLAGS) $(WARN) -Iinclude $< -L$(LIB) -lwsclient -Wl,-rpath,$(CURDIR)/$(LIB) -o $@

$(BUILD)/tests/test_wsclient_cpp: tests/cpp/test_wsclient.cpp tests/c/check.h include/wsclient.hpp include/wsclient.h lib
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer $(WARN) -Iinclude $< \
	  -L$(LIB) -lwsclient -Wl,-rpath,$(CURDIR)/$(LIB) -o $@

cpp: $(CPP)

# C tests of the API, under AddressSanitizer.
$(BUILD)/tests/%: tests/c/%.c tests/c/check.h include/wsclient.h lib
	@mkdir -p $(dir $@)
	$(CC) -g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer $(WARN) -Iinclude $< \
	  -L$(LIB) -lwsclient -Wl,-rpath,$(CURDIR)/$(LIB) -o $@

# The same tests without sanitizers, for valgrind.
$(BUILD)/tests-plain/%: tests/c/%.c tests/c/check.h include/wsclient.h lib
	@mkdir -p $(dir $@)
	$(CC) -g -O1 $(WARN) -Iinclude $< -L$(LIB) -lwsclient -Wl,-rpath,$(CURDIR)/$(LIB) -o $@

# Man pages: one per ws_* function and wsclient(3), from the header's doc
# comments (scripts/gen-man.py), so they cannot drift from it; each page's
# EXAMPLE comes from docs/man-examples (tests/integration/test_man.py
# compiles them all).
MAN_EXAMPLES := $(wildcard docs/man-examples/*.c)
man: $(MAN)/.stamp
$(MAN)/.stamp: include/wsclient.h scripts/gen-man.py $(MAN_EXAMPLES)
	python3 scripts/gen-man.py include/wsclient.h $(MAN) docs/man-examples
	@touch $@

header:
	WSCLIENT_BLESS=1 $(CARGO) test --test header

venv: $(VENV)/.ready
$(VENV)/.ready: tests/requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r tests/requirements.txt
	touch $@

# Build, start a local echo server, and run the C example against it.
demo: all venv
	$(PY) scripts/demo.py $(BUILD)/examples/echo_client $(BUILD)/bin/wsclient-cat

# Every suite and gate runs side by side (--output-sync keeps each target's
# output together): the Autobahn gates are mostly the runner's zlib, the
# other suites mostly wait on sockets and timeouts, so two cores stay busy.
# The full C gate starts first, as the longest. Where the time goes:
# docs/testing.md.
TEST_JOBS ?= 9
test: all venv $(CTESTS) $(SMALL_BENCH) abi-check
	$(MAKE) --no-print-directory -j$(TEST_JOBS) --output-sync=target autobahn-c-12 autobahn-c-other \
	  test-rust test-c \
	  test-python autobahn-poll autobahn-parts autobahn-transport autobahn-python autobahn-python-asyncio \
	  autobahn-chicken autobahn-proxy-quick test-chicken fuzz-smoke
	@echo "make test: all suites passed"

test-rust: venv
	$(CARGO) test --profile test-release

# The inner loop (a few minutes): the ABI check, the Rust suites, then side
# by side the C API tests, the Python suite without its slow wheel build and
# a quick Autobahn pass of the C client (sections 1-7, 10 and the first
# compression cases). `make test` before pushing.
check: all venv $(CTESTS) abi-check
	$(CARGO) test --profile test-release
	$(MAKE) --no-print-directory -j3 --output-sync=target check-c check-python autobahn-quick
	@echo "make check: passed (run make test for every suite and gate)"

check-c: all venv $(CTESTS)
	$(PY) -m pytest -q tests/integration/test_c_api.py tests/integration/test_connect_start.py \
	  tests/integration/test_abi.py

check-python: all venv
	$(PY) -m pytest -q -m "not slow" bindings/python/tests

# The ABI guard (docs/abi-policy.md): the exported symbols and their version
# nodes, and the header's prototypes, types and constants, against the
# baseline of the last release in abi/. Additions pass and are listed; any
# other change fails unless the SONAME changed. `abi-baseline` rewrites the
# baseline, at a release only.
ABI_BASELINE := abi/libwsclient.abi
abi-check: lib
	python3 scripts/abi-check.py --baseline $(ABI_BASELINE) --header include/wsclient.h \
	  --library $(LIB)/libwsclient.so.$(VERSION)

abi-baseline: lib
	python3 scripts/abi-check.py --write --baseline $(ABI_BASELINE) --header include/wsclient.h \
	  --library $(LIB)/libwsclient.so.$(VERSION)

autobahn-quick: all venv
	$(PY) tests/autobahn/gate.py --name c-quick $(foreach c,1 2 3 4 5 6 7 10 12.1 13.1,--case '$(c).*') \
	  -- $(BUILD)/examples/autobahn_client {url} {agent}

test-c: all venv $(CTESTS) $(SMALL_BENCH)
	$(PY) -m pytest -q tests/integration

test-python: all venv
	$(PY) -m pytest -q bindings/python/tests

# The egg, installed once into build/chicken-repo for the suite and the gate
# (which make test runs side by side).
egg: all
	bash bindings/chicken/install-egg.sh

test-chicken: egg
	WSCLIENT_EGG_INSTALLED=1 bash bindings/chicken/run-tests.sh

# The Autobahn gate: every case of sections 1-13, all OK or INFORMATIONAL.
autobahn: all venv
	$(PY) tests/autobahn/gate.py --name c -- $(BUILD)/examples/autobahn_client {url} {agent}

# The same 517 cases in two halves that run side by side (section 12, and
# the rest), as make test runs them: the runner is one process, and a whole
# gate would be the last job running, on one core.
autobahn-halves: autobahn-c-12 autobahn-c-other
autobahn-c-12: all venv
	$(PY) tests/autobahn/gate.py --name c-12 --case '12.*' -- $(BUILD)/examples/autobahn_client {url} {agent}
autobahn-c-other: all venv
	$(PY) tests/autobahn/gate.py --name c-other --exclude '12.*' -- \
	  $(BUILD)/examples/autobahn_client {url} {agent}

# The other testees in `make test`: every case of sections 1-10, the 18
# message sizes of 12.1 and the four smallest of each of 13.1-13.7's seven
# negotiated parameter sets (347 cases). Sections 12-13 are 97% of a full
# gate's time, nearly all of it zlib (the runner's and the core's): their
# other cases send other bytes through the same core inflate and deflate,
# which the C gate covers, and nothing a binding does depends on those bytes.
# AUTOBAHN_FULL=1 (as `make conformance` sets) runs all 517 for every testee.
# (kosoku reads a pattern with `*` as a prefix: 13.*.1 would take 13.1.10-18 too.)
AUTOBAHN_BINDING_CASES := 1.* 2.* 3.* 4.* 5.* 6.* 7.* 9.* 10.* 12.1.* \
  $(foreach s,1 2 3 4 5 6 7,$(foreach i,1 2 3 4,13.$(s).$(i)))
BINDING_CASES = $(if $(AUTOBAHN_FULL),,$(foreach c,$(AUTOBAHN_BINDING_CASES),--case '$(c)'))

# Through the poll example: non-blocking mode, one thread.
autobahn-poll: all venv
	$(PY) tests/autobahn/gate.py --name c-poll $(BINDING_CASES) -- \
	  $(BUILD)/examples/poll_client --autobahn {url} {agent}

# Every message received with ws_recv_part into 100 bytes (issue 22): pieces
# split frames, compressed blocks and characters.
autobahn-parts: all venv
	$(PY) tests/autobahn/gate.py --name c-parts $(BINDING_CASES) -- \
	  $(BUILD)/examples/autobahn_client --parts=100 {url} {agent}

# Over the caller's transport (issue 25): the example opens and drives each
# TCP socket itself; the library does no I/O.
autobahn-transport: all venv
	$(PY) tests/autobahn/gate.py --name c-transport $(BINDING_CASES) -- \
	  $(BUILD)/examples/autobahn_client --transport {url} {agent}

autobahn-python: all venv
	$(PY) tests/autobahn/gate.py --name python $(BINDING_CASES) -- \
	  $(PY) bindings/python/examples/autobahn_client.py {url} {agent}

autobahn-python-asyncio: all venv
	$(PY) tests/autobahn/gate.py --name python-asyncio $(BINDING_CASES) -- \
	  $(PY) bindings/python/examples/autobahn_client_asyncio.py {url} {agent}

autobahn-chicken: egg venv
	$(PY) tests/autobahn/gate.py --name chicken $(BINDING_CASES) -- \
	  bash bindings/chicken/run-autobahn.sh {url} {agent}

# The write path's stress run (tests/stress.rs, issue 20): one receiving and
# four sending threads against a server that pings every millisecond, reads
# slowly and drops the connection at random, connection after connection for
# STRESS_SECONDS; then a report. Not part of `make test`, which runs only its
# five-second script. STRESS_SEED repeats a run; STRESS_ENDINGS (e.g.
# fin,clean) limits how the server drops connections.
STRESS_SECONDS ?= 300
stress:
	STRESS_SECONDS=$(STRESS_SECONDS) $(CARGO) test --profile test-release --test stress -- --ignored --nocapture

# Fuzzing (cargo fuzz, libFuzzer): the targets in fuzz/fuzz_targets, each
# for FUZZ_SECONDS from the committed seeds (fuzz/seeds) plus what earlier
# runs found (fuzz/corpus, not committed). cargo-fuzz needs unstable rustc
# flags: the nightly toolchain when installed, else stable with
# RUSTC_BOOTSTRAP=1. `fuzz-smoke` is the short pass `make test` runs, built
# without optimisation (--dev: half the build's time, which is most of it).
FUZZ_TARGETS       := receiver handshake_response extension_negotiation utf8
FUZZ_SECONDS       ?= 600
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_CARGO := $(shell rustup run nightly cargo --version >/dev/null 2>&1 \
                && echo "$(CARGO) +nightly" || echo "RUSTC_BOOTSTRAP=1 $(CARGO)")

fuzz-tool:
	@$(CARGO) fuzz --version >/dev/null 2>&1 || $(CARGO) install --locked cargo-fuzz

fuzz fuzz-smoke: fuzz-tool
	@set -e; mkdir -p fuzz/target; for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t; \
	  secs=$(if $(filter fuzz,$@),$(FUZZ_SECONDS),$(FUZZ_SMOKE_SECONDS)); \
	  echo "$@: $$t for $$secs s"; \
	  if ! $(FUZZ_CARGO) fuzz run $(if $(filter fuzz-smoke,$@),--dev) $$t fuzz/corpus/$$t fuzz/seeds/$$t -- \
	      -max_total_time=$$secs -print_final_stats=1 > fuzz/target/$$t.log 2>&1; then \
	    tail -n 60 fuzz/target/$$t.log; exit 1; \
	  fi; \
	  grep -E '^stat::number_of_executed_units' fuzz/target/$$t.log; \
	done

# The published conformance report: every testee's gate with all 517 cases
# (about 15 minutes on 2 cores), then docs/conformance/ (README.md with a
# table per testee and section, and each index.json). The gates' failures
# are reported in the tables, then fail the target.
CONFORMANCE_TESTEES := c c-poll c-parts c-transport python python-asyncio chicken
conformance: all venv
	-$(MAKE) --no-print-directory -k -j7 AUTOBAHN_FULL=1 autobahn autobahn-poll autobahn-parts autobahn-transport \
	  autobahn-python autobahn-python-asyncio autobahn-chicken
	$(PY) tests/autobahn/report.py --out docs/conformance $(CONFORMANCE_TESTEES)

# The C gate again, every connection through an HTTP proxy (proxy.py, with
# Basic authentication). Not part of `make test`, which repeats only a few
# sections through the proxy (framing, fragmentation, compression).
autobahn-proxy: all venv
	$(PY) tests/autobahn/gate.py --name c-proxy --proxy -- \
	  $(BUILD)/examples/autobahn_client {url} {agent} {proxy}

autobahn-proxy-quick: all venv
	$(PY) tests/autobahn/gate.py --name c-proxy-quick --proxy --case '1.*' --case '5.*' \
	  --case '12.1.*' -- $(BUILD)/examples/autobahn_client {url} {agent} {proxy}

# The scale and small-message figures first: cargo bench builds the library
# again with the dev-dependencies' features, which the next `make lib` would
# undo.
bench: all venv
	$(MAKE) --no-print-directory bench-scale
	$(MAKE) --no-print-directory bench-small
	$(CARGO) bench --bench echo

# 10,000 connections from one thread (SCALE_CONNS=n for fewer; see
# benches/scale.py), beside Python websockets, each against a local epoll
# echo server in another process.
bench-scale: $(BUILD)/benches/scale $(BUILD)/benches/scale_server venv
	$(PY) benches/scale.py --client $(BUILD)/benches/scale --server $(BUILD)/benches/scale_server

$(BUILD)/benches/scale: benches/scale.c include/wsclient.h lib
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Iinclude $< -L$(LIB) -lwsclient -Wl,-rpath,$(CURDIR)/$(LIB) -o $@

$(BUILD)/benches/scale_server: benches/scale_server.c benches/upgrade_answer.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) $< $$(pkg-config --cflags --libs libcrypto) -o $@

# Issue 24's workload (benches/small.py): 128-byte text messages, 256 in
# flight, from the C API, the Python binding, tungstenite, websockets,
# websocket-client and raw TCP, each a process of its own against a fresh
# cheap echo server; then the 32-byte round trip and 1 MiB echoes (C,
# tungstenite, raw TCP). SMALL_ARGS passes options, e.g.
# SMALL_ARGS="--messages 20000 --rounds 1" for a short run. About 3 minutes.
SMALL_ARGS ?=
bench-small: $(SMALL_BENCH) venv
	$(PY) benches/small.py --server $(BUILD)/benches/small_server --c-client $(BUILD)/benches/small_client \
	  --tungstenite $(PEERS) $(SMALL_ARGS)

$(BUILD)/benches/small_client: benches/small_client.c include/wsclient.h lib
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Iinclude $< -L$(LIB) -lwsclient -Wl,-rpath,$(CURDIR)/$(LIB) -o $@

$(BUILD)/benches/small_server: benches/small_server.c benches/upgrade_answer.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) $< $$(pkg-config --cflags --libs libcrypto) -pthread -o $@

# The tungstenite client: a cargo project of its own (benches/peers), so the
# library is not built again with the dev-dependencies' features; offline,
# from the registry cache (tungstenite is a dev-dependency here; on a fresh
# machine `cargo fetch --manifest-path benches/peers/Cargo.toml` first).
$(PEERS): benches/peers/Cargo.toml benches/peers/Cargo.lock benches/peers/src/tungstenite_client.rs
	$(CARGO) build --release --offline --locked --manifest-path benches/peers/Cargo.toml \
	  --target-dir $(TARGET)/bench-peers

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	python3 scripts/licenses.py

# Regenerate LICENSES-THIRD-PARTY.md (make lint fails when it is stale).
licenses:
	python3 scripts/licenses.py --write

# Installs what `make` built (it runs cargo only when nothing is built).
# The installed .so and .a carry no debug info (STRIP=true keeps it, e.g.
# for dh_strip's -dbgsym packages).
install: $(LIB)/libwsclient.so.$(VERSION) $(LIB)/libwsclient.a $(MAN)/.stamp $(INSTALL_TOOL)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR) \
	           $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(BINDIR)
	install -m 644 $(LIB)/libwsclient.so.$(VERSION) $(DESTDIR)$(LIBDIR)/
	$(STRIP) --strip-unneeded $(DESTDIR)$(LIBDIR)/libwsclient.so.$(VERSION)
	ln -sf libwsclient.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libwsclient.so
	install -m 644 $(LIB)/libwsclient.a $(DESTDIR)$(LIBDIR)/
	$(STRIP) --strip-debug $(DESTDIR)$(LIBDIR)/libwsclient.a
	install -m 644 include/wsclient.h include/wsclient.hpp $(DESTDIR)$(INCLUDEDIR)/
	install -m 755 $(INSTALL_TOOL) $(DESTDIR)$(BINDIR)/wsclient-cat
	install -m 644 $(MAN)/*.3 $(DESTDIR)$(MANDIR)/man3/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' libwsclient.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/libwsclient.pc

uninstall: $(MAN)/.stamp
	rm -f $(DESTDIR)$(LIBDIR)/libwsclient.so* $(DESTDIR)$(LIBDIR)/libwsclient.a \
	      $(DESTDIR)$(INCLUDEDIR)/wsclient.h $(DESTDIR)$(INCLUDEDIR)/wsclient.hpp \
	      $(DESTDIR)$(PKGCONFIGDIR)/libwsclient.pc $(DESTDIR)$(BINDIR)/wsclient-cat \
	      $(addprefix $(DESTDIR)$(MANDIR)/man3/,$(notdir $(wildcard $(MAN)/*.3)))

# The Python distribution for an index, into build/dist/python (its sdist,
# libwsclient-<version>.tar.gz, is named like the source release that `make
# dist` writes to build/dist): the sdist, a wheel built from it, repaired by
# auditwheel (tag manylinux_2_X for the glibc it was built against; OpenSSL
# copied in) and checked by twine. See scripts/python-dist.py and
# bindings/python/README.md.
wheel: venv
	CARGO_TARGET_DIR=$(abspath $(TARGET)) $(PY) scripts/python-dist.py $(BUILD)/dist/python

# The source release: build/dist/libwsclient-<version>.tar.gz (unpacking to
# libwsclient-<version>/) and its .sha256. It holds the tracked files as they
# are in the work tree (git ls-files) but debian/, which the Debian source
# package brings (its debian.tar.xz); every crate of Cargo.lock in vendor/
# (cargo vendor --locked --versioned-dirs, then scripts/vendor_prune.py drops
# each Cargo.toml.orig, as dpkg-source would, bundled C libraries whose
# system copy is linked, and prebuilt binaries); and .cargo/config.toml,
# which puts vendor/ in place of crates.io. The library, the examples and
# the Debian packages build from it with no network and an empty
# CARGO_HOME. vendor/ is made here, never committed (.gitignore). Same tree,
# same tarball: names sorted, owners 0, every mtime the last commit's, gzip -n.
DIST     := $(BUILD)/dist
DISTNAME := libwsclient-$(VERSION)
DISTTAR  := $(DIST)/$(DISTNAME).tar.gz
dist:
	rm -rf $(DIST)/$(DISTNAME) $(DISTTAR) $(DISTTAR).sha256
	mkdir -p $(DIST)/$(DISTNAME)/.cargo
	git ls-files -z -- . ':(exclude)debian' | tar -cf - --null -T - | tar -xf - -C $(DIST)/$(DISTNAME)
	cd $(DIST)/$(DISTNAME) && $(CARGO) vendor --locked --versioned-dirs --quiet vendor >/dev/null
	python3 scripts/vendor_prune.py $(DIST)/$(DISTNAME)/vendor
	printf '%s\n' '# Written by `make dist`: the crates come from vendor/, never from a registry.' \
	  '[source.crates-io]' 'replace-with = "vendored-sources"' '' \
	  '[source.vendored-sources]' 'directory = "vendor"' > $(DIST)/$(DISTNAME)/.cargo/config.toml
	tar -C $(DIST) --sort=name --owner=0 --group=0 --numeric-owner --format=gnu \
	  --mtime=@$$(git log -1 --format=%ct) -cf - $(DISTNAME) | gzip -9n > $(DISTTAR)
	rm -rf $(DIST)/$(DISTNAME)
	cd $(DIST) && sha256sum $(DISTNAME).tar.gz > $(DISTNAME).tar.gz.sha256
	@echo "$(DISTTAR): $$(du -h $(DISTTAR) | cut -f1)"

# Debian packages into build/deb, the way a distribution builds them: the
# dist tarball becomes the .orig.tar.gz, debian/ is added to its unpacked
# tree, `dpkg-source -b` makes the source package (.dsc), and the binary
# packages are built from a fresh `dpkg-source -x` of it, offline
# (debian/rules), with the system's PATH only. Build-Depends met (Debian 13:
# rustc 1.85): a plain build. On Debian 12 the rustc package (1.63) is older
# than the crate's minimum (1.80): if a rustup toolchain is installed, the
# build uses the build profile pkg.libwsclient.rustup instead of -d, which
# drops cargo and rustc from Build-Depends (every other one is checked); that
# toolchain's bin/ goes before the system PATH, and the .buildinfo records the
# profile (DEB_BUILD_PROFILES). See debian/README.source.
DEBDIR     := $(BUILD)/deb
DEBVERSION  = $(shell dpkg-parsechangelog -l debian/changelog -SVersion)
SYSTEM_PATH:= /usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
# The build farm's condition: no network at all (a network namespace of its
# own, where unshare(1) may: as root), as well as no registry (debian/rules).
NO_NETWORK := $(shell unshare --net true 2>/dev/null && echo "unshare --net")
RUSTUP_BIN  = $(patsubst %/,%,$(dir $(shell rustup which rustc 2>/dev/null)))
package-debs: dist
	rm -rf $(DEBDIR)
	mkdir -p $(DEBDIR)
	cp $(DISTTAR) $(DEBDIR)/libwsclient_$(VERSION).orig.tar.gz
	tar -xzf $(DEBDIR)/libwsclient_$(VERSION).orig.tar.gz -C $(DEBDIR)
	git ls-files -z debian | tar -cf - --null -T - | tar -xf - -C $(DEBDIR)/$(DISTNAME)
	cd $(DEBDIR) && dpkg-source -b $(DISTNAME) > source.log 2>&1 || { cat source.log; exit 1; }
	rm -rf $(DEBDIR)/$(DISTNAME)
	cd $(DEBDIR) && dpkg-source -x libwsclient_$(DEBVERSION).dsc $(DISTNAME) >> source.log 2>&1
	cd $(DEBDIR)/$(DISTNAME) && if PATH=$(SYSTEM_PATH) dpkg-checkbuilddeps 2>/dev/null; then \
	    echo "package-debs: Build-Depends met: dpkg-buildpackage -b"; \
	    $(NO_NETWORK) env PATH=$(SYSTEM_PATH) dpkg-buildpackage -us -uc -b > ../build.log 2>&1; \
	  elif dpkg-checkbuilddeps -Ppkg.libwsclient.rustup && [ -n "$(RUSTUP_BIN)" ]; then \
	    echo "package-debs: no rustc >= 1.80 package: -Ppkg.libwsclient.rustup with $(RUSTUP_BIN)"; \
	    $(NO_NETWORK) env PATH=$(RUSTUP_BIN):$(SYSTEM_PATH) dpkg-buildpackage -us -uc -b \
	      -Ppkg.libwsclient.rustup > ../build.log 2>&1; \
	  else dpkg-checkbuilddeps; exit 1; fi || { tail -40 ../build.log; exit 1; }
	@ls $(DEBDIR)/*.deb

# The packages, then lintian on the source package and the binary build
# (errors fail; warnings are listed in debian/README.source with why they
# stay), then the autopkgtest (debian/tests) when autopkgtest is installed:
# the `null` virt server in a private mount namespace whose /usr, /etc and
# /var are throwaway overlays (scripts/autopkgtest-isolated.sh), so the
# packages it installs never reach the machine.
package: package-debs
	lintian --fail-on error --tag-display-limit 0 $(DEBDIR)/*.dsc $(DEBDIR)/*.changes
	@if command -v autopkgtest >/dev/null; then \
	  sh scripts/autopkgtest-isolated.sh $(DEBDIR)/autopkgtest $(DEBDIR)/*.dsc $(DEBDIR)/*.deb \
	    > $(DEBDIR)/autopkgtest.log 2>&1 || { tail -40 $(DEBDIR)/autopkgtest.log; exit 1; }; \
	  tail -3 $(DEBDIR)/autopkgtest.log; \
	else echo "package: autopkgtest is not installed (apt-get install autopkgtest): not run"; fi

debian-symbols:
	python3 scripts/debian-symbols.py

clean:
	$(CARGO) clean
	rm -rf $(BUILD)
