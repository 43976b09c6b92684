# snapdiff — one GNU Makefile for the binary, the tests, the demo and the benchmark.
#
# Sources are discovered by directory so a new module is one new file:
#   differ/*.c     the CLI and the diff engine (main() lives in differ/main.c)
#   state/*.c      the SQLite state store
#   scheduler/*.c  the scheduler daemon (a subcommand of the same binary)
#   lake/*.c       Iceberg / Parquet / Avro writers
# Unit tests are tests/unit/test_*.c, linked against every object but main.o.
#
#   make                 build ./snapdiff
#   make deps            install the Debian packages and the Python venv (idempotent)
#   make test            deps + build + unit tests + integration tests (real MariaDB)
#   make demo            deps + build + an end-to-end run on a throwaway MariaDB
#   make bench           deps + build + the benchmark (prints ratios)
#   make SANITIZE=address,undefined test
#   make DEVELOPER=1     adds -Werror

CC      ?= cc
PKGS    := libmariadb sqlite3 yaml-0.1 libxxhash jansson rdkafka libmicrohttpd libcurl libzstd snappy
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes \
           -Wold-style-definition -Wwrite-strings -Wpointer-arith -Wformat-security -Wvla \
           -fno-common -MMD -MP -I. -Idiffer -Istate
LDLIBS  += -lm -lpthread

ifneq ($(DEVELOPER),)
CFLAGS  += -Werror
endif
ifneq ($(SANITIZE),)
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif

# pkg-config is only asked when it is there and the packages are installed,
# so that `make deps` itself can run on a bare machine.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS  += $(PKG_CFLAGS)
LDLIBS  += $(PKG_LIBS)

BUILD   := build$(if $(SANITIZE),-san)
SRCS    := $(wildcard differ/*.c state/*.c scheduler/*.c lake/*.c)
OBJS    := $(SRCS:%.c=$(BUILD)/%.o)
LIBOBJS := $(filter-out $(BUILD)/differ/main.o,$(OBJS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/tests/unit/harness.o
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)

.PHONY: all deps test unit integration demo bench clean install

all: snapdiff

snapdiff: $(BUILD)/snapdiff
	cp $< $@

$(BUILD)/snapdiff: $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/unit-tests: $(UNIT_OBJS) $(LIBOBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

# pqwrite times lake/parquet.c itself, so it links the writer's objects
$(BUILD)/bench/pqwrite: bench/pqwrite.c $(BUILD)/lake/parquet.o $(BUILD)/lake/thrift.o \
		$(BUILD)/differ/buf.o $(BUILD)/differ/error.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

deps:
	@tests/lib/deps.sh

unit: $(BUILD)/unit-tests
	$(BUILD)/unit-tests

integration: snapdiff
	@tests/lib/run-integration.sh

# The unit tests run twice (plain and under ASan/UBSan); the integration tests
# drive the sanitized binary, so a leak or undefined behaviour on a real
# MariaDB path fails the build.
test: deps
	$(MAKE) snapdiff $(BUILD)/unit-tests
	$(BUILD)/unit-tests
	$(MAKE) SANITIZE=address,undefined build-san/snapdiff build-san/unit-tests
	build-san/unit-tests
	SNAPDIFF_BIN=$(CURDIR)/build-san/snapdiff tests/lib/run-integration.sh
	SNAPDIFF_BIN=$(CURDIR)/snapdiff tests/lib/airflow.sh --test

demo: deps
	$(MAKE) snapdiff
	@tests/lib/demo.sh

bench: deps
	$(MAKE) snapdiff $(BENCH_BINS)
	@bench/run.sh

install: snapdiff
	install -D -m 0755 snapdiff $(DESTDIR)/usr/local/bin/snapdiff

clean:
	rm -rf build build-san snapdiff

-include $(OBJS:.o=.d) $(UNIT_OBJS:.o=.d)
