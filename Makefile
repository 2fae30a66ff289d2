# libwsclient: build, demo, test, install. Needs only cargo and a C toolchain
# to build; the tests also use python3 (a venv is made under .venv).

PREFIX      ?= /usr/local
LIBDIR      ?= $(PREFIX)/lib
BINDIR      ?= $(PREFIX)/bin
INCLUDEDIR  ?= $(PREFIX)/include
PKGCONFIGDIR?= $(LIBDIR)/pkgconfig
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
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Werror
BUILD   := build
LIB     := $(BUILD)/lib
VENV    := .venv
PY      := $(VENV)/bin/python
EXAMPLES:= $(BUILD)/examples/echo_client $(BUILD)/examples/autobahn_client \
           $(BUILD)/examples/poll_client $(BUILD)/examples/duplex_client
TOOLS   := $(BUILD)/bin/wsclient-cat
CPP     := $(BUILD)/examples-cpp/echo_client $(BUILD)/tests/test_wsclient_cpp
CTESTS  := $(BUILD)/tests/test_api $(BUILD)/tests-plain/test_api $(BUILD)/tests/test_proxy

export WSCLIENT_LIBRARY := $(CURDIR)/$(LIB)/$(SONAME)
export WSCLIENT_BUILD   := $(CURDIR)/$(BUILD)
export WSCLIENT_PYTHON  := $(CURDIR)/$(PY)

.PHONY: all lib examples tools cpp header demo test test-rust test-c test-python \
        test-chicken autobahn autobahn-poll autobahn-python autobahn-chicken autobahn-proxy \
        autobahn-proxy-quick conformance venv install \
        uninstall bench clean lint

all: lib examples tools cpp

# The Rust core as libwsclient.so.X.Y (with SONAME and symlinks) and .a.
lib:
	$(CARGO) build --release --lib
	@mkdir -p $(LIB)
	@# Replace, never overwrite in place: running programs map the old file.
	cp target/release/libwsclient.so $(LIB)/.libwsclient.so.tmp
	mv -f $(LIB)/.libwsclient.so.tmp $(LIB)/libwsclient.so.$(VERSION)
	ln -sf libwsclient.so.$(VERSION) $(LIB)/$(SONAME)
	ln -sf $(SONAME) $(LIB)/libwsclient.so
	cp target/release/libwsclient.a $(LIB)/libwsclient.a

$(BUILD)/examples/%: examples-c/%.c include/wsclient.h lib
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Iinclude $< -L$(LIB) -lwsclient -Wl,-rpath,$(CURDIR)/$(LIB) -pthread -o $@

examples: $(EXAMPLES)

# Command-line tools, on the public C API only.
$(BUILD)/bin/%: tools/%.c include/wsclient.h lib
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -Iinclude $< -L$(LIB) -lwsclient -Wl,-rpath,$(CURDIR)/$(LIB) -o $@

tools: $(TOOLS)

# The header-only C++17 API: its example, and its tests under ASan/UBSan.
$(BUILD)/examples-cpp/%: examples-cpp/%.cpp include/wsclient.hpp include/wsclient.h lib
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 $(CXXFLAGS) $(WARN) -Iinclude $< -L$(LIB) -lwsclient -Wl,-rpath,$(CURDIR)/$(LIB) -o $@

$(BUILD)/tests/test_wsclient_cpp: tests/cpp/test_wsclient.cpp include/wsclient.hpp include/wsclient.h lib
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer $(WARN) -Iinclude $< \
	  -L$(LIB) -lwsclient -Wl,-rpath,$(CURDIR)/$(LIB) -o $@

cpp: $(CPP)

# C tests of the API, under AddressSanitizer.
$(BUILD)/tests/%: tests/c/%.c include/wsclient.h lib
	@mkdir -p $(dir $@)
	$(CC) -g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer $(WARN) -Iinclude $< \
	  -L$(LIB) -lwsclient -Wl,-rpath,$(CURDIR)/$(LIB) -o $@

# The same tests without sanitizers, for valgrind.
$(BUILD)/tests-plain/%: tests/c/%.c include/wsclient.h lib
	@mkdir -p $(dir $@)
	$(CC) -g -O1 $(WARN) -Iinclude $< -L$(LIB) -lwsclient -Wl,-rpath,$(CURDIR)/$(LIB) -o $@

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

# The three Autobahn gates run side by side: each is mostly waiting on the
# other process, and the cases' own timeouts are generous.
test: test-rust test-c test-python test-chicken
	$(MAKE) --no-print-directory -j4 autobahn autobahn-poll autobahn-python autobahn-chicken \
	  autobahn-proxy-quick
	@echo "make test: all suites passed"

test-rust: venv
	$(CARGO) test --release

test-c: all venv $(CTESTS)
	$(PY) -m pytest -q tests/integration

test-python: all venv
	$(PY) -m pytest -q bindings/python/tests

test-chicken: all
	bash bindings/chicken/run-tests.sh

# The Autobahn gate: every case of sections 1-13, all OK or INFORMATIONAL.
autobahn: all venv
	$(PY) tests/autobahn/gate.py --name c -- $(BUILD)/examples/autobahn_client {url} {agent}

# The same cases through the poll example: non-blocking mode, one thread.
autobahn-poll: all venv
	$(PY) tests/autobahn/gate.py --name c-poll -- $(BUILD)/examples/poll_client --autobahn {url} {agent}

autobahn-python: all venv
	$(PY) tests/autobahn/gate.py --name python -- $(PY) bindings/python/examples/autobahn_client.py {url} {agent}

autobahn-chicken: all venv
	$(PY) tests/autobahn/gate.py --name chicken -- bash bindings/chicken/run-autobahn.sh {url} {agent}

# The published conformance report: the three gates, then docs/conformance/
# (README.md with a table per testee and section, and each index.json).
# The gates' failures are reported in the tables, then fail the target.
conformance: all venv
	-$(MAKE) --no-print-directory -k -j3 autobahn autobahn-python autobahn-chicken
	$(PY) tests/autobahn/report.py --out docs/conformance c python chicken

# The C gate again, every connection through an HTTP proxy (proxy.py, with
# Basic authentication). Not part of `make test`, which repeats only a few
# sections through the proxy (framing, fragmentation, compression).
autobahn-proxy: all venv
	$(PY) tests/autobahn/gate.py --name c-proxy --proxy -- \
	  $(BUILD)/examples/autobahn_client {url} {agent} {proxy}

autobahn-proxy-quick: all venv
	$(PY) tests/autobahn/gate.py --name c-proxy-quick --proxy --case '1.*' --case '5.*' \
	  --case '12.1.*' -- $(BUILD)/examples/autobahn_client {url} {agent} {proxy}

bench: all venv
	$(CARGO) bench --bench echo

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

install: lib
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(BINDIR)
	install -m 755 $(LIB)/libwsclient.so.$(VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libwsclient.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libwsclient.so
	install -m 644 $(LIB)/libwsclient.a $(DESTDIR)$(LIBDIR)/
	install -m 644 include/wsclient.h include/wsclient.hpp $(DESTDIR)$(INCLUDEDIR)/
	@# The tool is relinked against the installed library (no build-tree rpath).
	$(CC) $(CFLAGS) $(WARN) -Iinclude tools/wsclient-cat.c -L$(LIB) -lwsclient \
	  $(if $(filter /usr/lib /lib,$(LIBDIR)),,-Wl,-rpath,$(LIBDIR)) -o $(BUILD)/wsclient-cat.install
	install -m 755 $(BUILD)/wsclient-cat.install $(DESTDIR)$(BINDIR)/wsclient-cat
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' libwsclient.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/libwsclient.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libwsclient.so* $(DESTDIR)$(LIBDIR)/libwsclient.a \
	      $(DESTDIR)$(INCLUDEDIR)/wsclient.h $(DESTDIR)$(INCLUDEDIR)/wsclient.hpp \
	      $(DESTDIR)$(PKGCONFIGDIR)/libwsclient.pc \
	      $(DESTDIR)$(BINDIR)/wsclient-cat

clean:
	$(CARGO) clean
	rm -rf $(BUILD)
