# siplb: build into $(BUILD) with -MMD; quiet unless V=1.
#   make            build every program
#   make test       deps, build, layout, format-check, unit tests (plain and ASan+UBSan),
#                   fuzz smoke, integration
#   make layout     file and function sizes (scripts/check-layout)
#   make lab        deps, build, start the suite on this host
#   make man        the man pages (doc/*.scd) into $(BUILD)/man
#   make install    PREFIX=/usr/local DESTDIR= (MANDIR, DOCDIR too)

BUILD    ?= build
PREFIX   ?= /usr/local
SYSCONFDIR ?= /etc
SYSTEMDDIR ?= /lib/systemd/system
DESTDIR  ?=
SAN      ?=
VERSION  := 0.1.0

CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CPPFLAGS += -std=c11 -D_GNU_SOURCE -DSIPLB_VERSION='"$(VERSION)"' \
            -I$(BUILD)/proto -Iservices/common -MMD -MP
ifneq ($(SAN),)
CFLAGS   += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif
# SAN=fuzz (make fuzz): clang with libFuzzer's coverage on every object
ifeq ($(SAN),fuzz)
CFLAGS   += -fsanitize=fuzzer-no-link
endif

MYSQL_CFLAGS := $(shell pkg-config --cflags libmariadb 2>/dev/null)
MYSQL_LIBS   := $(shell pkg-config --libs libmariadb 2>/dev/null || echo -lmariadb)

ifeq ($(V),1)
Q :=
else
Q := @
endif

PROTO_SRC := proto/siplb.proto
PROTO_C   := $(BUILD)/proto/siplb.pb-c.c
PROTO_H   := $(BUILD)/proto/siplb.pb-c.h

COMMON_SRCS := $(wildcard services/common/*.c)
COMMON_OBJS := $(COMMON_SRCS:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/proto/siplb.pb-c.o
LIBSIPLB    := $(BUILD)/libsiplb.a
BASE_LIBS   := -lnng -lprotobuf-c -levent_core -lpthread

# services/lb: the node table, selection and load (liblb.a), shared by the
# scheduler, edge, prober and admin.
LB_SRCS     := $(wildcard services/lb/*.c)
LB_OBJS     := $(LB_SRCS:%.c=$(BUILD)/obj/%.o)
LIBLB       := $(BUILD)/liblb.a
LB_LIBS     := -lm

SCHED_SRCS  := $(filter-out services/scheduler/main.c,$(wildcard services/scheduler/*.c))
SCHED_OBJS  := $(SCHED_SRCS:%.c=$(BUILD)/obj/%.o)
SCHED_LIBS  := $(MYSQL_LIBS)

EDGE_SRCS   := $(filter-out services/edge/main.c,$(wildcard services/edge/*.c))
EDGE_OBJS   := $(EDGE_SRCS:%.c=$(BUILD)/obj/%.o)

PROBER_SRCS  := $(wildcard services/prober/*.c)
PROBER_OBJS  := $(PROBER_SRCS:%.c=$(BUILD)/obj/%.o)
PROBER_LIB_OBJS := $(filter-out %/main.o,$(PROBER_OBJS))
DIALOGD_SRCS := $(wildcard services/dialogd/*.c)
DIALOGD_OBJS := $(DIALOGD_SRCS:%.c=$(BUILD)/obj/%.o)
ADMIN_SRCS   := $(wildcard services/admin/*.c)
ADMIN_OBJS   := $(ADMIN_SRCS:%.c=$(BUILD)/obj/%.o)

PROGS := $(BUILD)/bin/siplb-scheduler $(BUILD)/bin/siplbctl $(BUILD)/bin/siplb-edge \
         $(BUILD)/bin/siplb-bench-client $(BUILD)/bin/fake-edge \
         $(BUILD)/bin/sip-flood \
         $(if $(PROBER_SRCS),$(BUILD)/bin/siplb-prober) \
         $(if $(DIALOGD_SRCS),$(BUILD)/bin/siplb-dialogd) \
         $(if $(ADMIN_SRCS),$(BUILD)/bin/siplb-admin)

FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz-bin/%)
FUZZ_CC    ?= clang-14
# seconds per target: make fuzz runs each for FUZZ_TIME, make test for 20
FUZZ_TIME  ?= 300

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

# Man pages: doc/NAME.N.scd through scdoc into $(BUILD)/man/NAME.N, part of
# `all` when scdoc is installed (make deps installs it); `make man` wants it.
SCDOC     := $(shell command -v scdoc 2>/dev/null)
MAN_SRCS  := $(wildcard doc/*.scd)
MAN_PAGES := $(MAN_SRCS:doc/%.scd=$(BUILD)/man/%)
MANDIR    ?= $(PREFIX)/share/man
DOCDIR    ?= $(PREFIX)/share/doc/siplb

.PHONY: format format-check all deps test layout unit unit-asan fuzz fuzz-smoke fuzz-bins integration test-ha test-compose lab lab-down install clean bench man
all: $(PROGS) $(if $(SCDOC),$(MAN_PAGES))

man: $(MAN_PAGES)

$(BUILD)/man/%: doc/%.scd
	@command -v scdoc > /dev/null || { echo "scdoc is not installed (make deps)" >&2; exit 1; }
	@mkdir -p $(dir $@)
	@echo "  SCDOC   $<"
	$(Q)scdoc < $< > $@.tmp && mv $@.tmp $@

deps:
	$(Q)scripts/deps.sh

$(PROTO_C) $(PROTO_H): $(PROTO_SRC)
	@mkdir -p $(BUILD)/proto
	@echo "  PROTOC  $<"
	$(Q)protoc-c --proto_path=proto --c_out=$(BUILD)/proto $<

$(BUILD)/obj/proto/siplb.pb-c.o: $(PROTO_C)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -w -c $< -o $@

# Each program's sources see libsiplb's headers and only the folders they
# use; the unit tests reach into every module.
$(BUILD)/obj/services/lb/%.o:        INC := -iquote services/lb
$(BUILD)/obj/services/scheduler/%.o: INC := -iquote services/lb -iquote services/scheduler
$(BUILD)/obj/services/edge/%.o:      INC := -iquote services/lb -iquote services/edge
$(BUILD)/obj/services/prober/%.o:    INC := -iquote services/lb -iquote services/prober
$(BUILD)/obj/services/admin/%.o:     INC := -iquote services/lb -iquote services/admin
$(BUILD)/obj/services/dialogd/%.o:   INC := -iquote services/dialogd
$(BUILD)/obj/tests/unit/%.o:         INC := $(foreach d,lb scheduler edge prober dialogd admin,-iquote services/$(d))
$(BUILD)/obj/tests/fuzz/%.o:         INC := $(foreach d,lb scheduler edge prober dialogd admin siplbctl,-iquote services/$(d))

$(BUILD)/obj/%.o: %.c $(PROTO_H)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(INC) $(MYSQL_CFLAGS) $(CFLAGS) $(WARN) -c $< -o $@

$(LIBSIPLB): $(COMMON_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIBLB): $(LB_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/libsched.a: $(SCHED_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/siplb-scheduler: $(BUILD)/obj/services/scheduler/main.o $(BUILD)/libsched.a $(LIBLB) $(LIBSIPLB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(SCHED_LIBS) $(LB_LIBS) $(BASE_LIBS)

$(BUILD)/libedge.a: $(EDGE_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/siplb-edge: $(BUILD)/obj/services/edge/main.o $(BUILD)/libedge.a $(LIBLB) $(LIBSIPLB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -losipparser2 $(LB_LIBS) $(BASE_LIBS)

# siplb-prober and siplb-admin link the lb library for the node table and
# its protobuf conversions; siplb-dialogd needs neither.
$(BUILD)/bin/siplb-prober: $(PROBER_OBJS) $(LIBLB) $(LIBSIPLB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -losipparser2 $(LB_LIBS) $(BASE_LIBS)

$(BUILD)/bin/siplb-dialogd: $(DIALOGD_OBJS) $(LIBSIPLB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lsqlite3 $(MYSQL_LIBS) $(BASE_LIBS)

$(BUILD)/bin/siplb-admin: $(ADMIN_OBJS) $(LIBLB) $(LIBSIPLB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lmicrohttpd -ljansson $(LB_LIBS) $(BASE_LIBS)

CTL_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard services/siplbctl/*.c))
$(BUILD)/bin/siplbctl: $(CTL_OBJS) $(LIBSIPLB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -ljansson -losipparser2 $(BASE_LIBS)

$(BUILD)/bin/siplb-bench-client: $(BUILD)/obj/scripts/bench-client.o $(LIBSIPLB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(BASE_LIBS) -lm

$(BUILD)/bin/fake-edge: $(BUILD)/obj/tests/tools/fake-edge.o $(LIBSIPLB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(BASE_LIBS)

# one source flooding the edge with INVITEs (edge_blocks_a_flooding_source)
$(BUILD)/bin/sip-flood: $(BUILD)/obj/tests/tools/sip-flood.o
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

# Unit tests: one binary per module, linked with every library so a test
# can reach any module's internals.
$(BUILD)/libprober.a: $(PROBER_LIB_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libedge.a $(BUILD)/libprober.a $(BUILD)/libsched.a $(LIBLB) $(LIBSIPLB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -losipparser2 -lsqlite3 $(SCHED_LIBS) $(LB_LIBS) $(BASE_LIBS)

# Fuzz targets (tests/fuzz/fuzz_*.c): libFuzzer, ASan + UBSan, built by
# clang into $(BUILD)/fuzz; each starts from its seed corpus in
# tests/fuzz/corpus/<target> (read only; new inputs go to a temp dir).
$(BUILD)/fuzz-bin/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/libedge.a $(BUILD)/libsched.a $(LIBLB) $(LIBSIPLB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ -losipparser2 -ljansson $(SCHED_LIBS) $(LB_LIBS) $(BASE_LIBS)

# the admin API's unit test links the admin's objects but not its main()
$(BUILD)/tests/test_admin_api: $(BUILD)/obj/tests/unit/test_admin_api.o $(filter-out %/main.o,$(ADMIN_OBJS)) $(LIBLB) $(LIBSIPLB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -lmicrohttpd -ljansson $(LB_LIBS) $(BASE_LIBS)

# the admin target links the admin's objects but not its main()
$(BUILD)/fuzz-bin/fuzz_admin_json: $(BUILD)/obj/tests/fuzz/fuzz_admin_json.o $(filter-out %/main.o,$(ADMIN_OBJS)) $(BUILD)/libsched.a $(LIBLB) $(LIBSIPLB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ -lmicrohttpd -ljansson $(SCHED_LIBS) $(LB_LIBS) $(BASE_LIBS)

# the doctor target links siplbctl's SIP call, not the rest of siplbctl
$(BUILD)/fuzz-bin/fuzz_doctor_reply: $(BUILD)/obj/tests/fuzz/fuzz_doctor_reply.o $(BUILD)/obj/services/siplbctl/doctor_sip.o $(LIBSIPLB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ -losipparser2 $(BASE_LIBS)

fuzz-bins: $(FUZZ_BINS)
.SECONDARY: $(FUZZ_BINS:$(BUILD)/fuzz-bin/%=$(BUILD)/obj/tests/fuzz/%.o)

fuzz: deps
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/fuzz SAN=fuzz CC=$(FUZZ_CC) fuzz-bins
	$(Q)scripts/run-fuzz $(FUZZ_TIME) $(BUILD)/fuzz/fuzz-bin/fuzz_*

fuzz-smoke:
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/fuzz SAN=fuzz CC=$(FUZZ_CC) fuzz-bins
	$(Q)scripts/run-fuzz 20 $(BUILD)/fuzz/fuzz-bin/fuzz_*

# Every program: no .c file over 900 lines, no function over 120.  The
# edge also: no two of its files calling each other by name (nm over its
# objects, hence after `all`).  Seconds.
layout: all
	$(Q)BUILD=$(BUILD) scripts/check-layout --sizes-only $(wildcard services/*)
	$(Q)BUILD=$(BUILD) scripts/check-layout services/edge

unit: $(UNIT_BINS)
	$(Q)scripts/run-unit $(UNIT_BINS)

unit-asan:
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/asan SAN=1 unit

integration: all
	$(Q)scripts/run-integration

# also part of `make test` (integration runs every test)
test-ha: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)ONLY='ha_*' scripts/run-integration

test-compose: deps
	$(Q)ONLY='compose_*' scripts/run-integration

test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory layout
	$(Q)$(MAKE) --no-print-directory format-check
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory unit-asan
	$(Q)$(MAKE) --no-print-directory fuzz-smoke
	$(Q)$(MAKE) --no-print-directory integration

lab: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/lab up

lab-down:
	$(Q)scripts/lab down

bench: deps all
	$(Q)scripts/bench

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/siplb/sql \
	    $(DESTDIR)$(PREFIX)/share/siplb/examples
	install -m 0755 $(filter-out %/siplb-bench-client %/fake-edge %/sip-flood,$(PROGS)) \
	    $(DESTDIR)$(PREFIX)/bin/
	install -d $(DESTDIR)$(SYSTEMDDIR)
	for f in deploy/systemd/*.service.in; do \
	    sed -e 's|@BINDIR@|$(PREFIX)/bin|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' $$f \
	        -e 's|@DOCDIR@|$(DOCDIR)|g' > $(DESTDIR)$(SYSTEMDDIR)/$$(basename $${f%.in}); done
	install -m 0644 deploy/systemd/siplb.target $(DESTDIR)$(SYSTEMDDIR)/
	install -d $(DESTDIR)$(PREFIX)/share/siplb/keepalived
	install -m 0644 deploy/keepalived/*.conf $(DESTDIR)$(PREFIX)/share/siplb/keepalived/
	install -m 0755 deploy/keepalived/keepalived-notify.sh $(DESTDIR)$(PREFIX)/share/siplb/
	install -m 0644 deploy/sql/*.sql $(DESTDIR)$(PREFIX)/share/siplb/sql/
	install -m 0644 deploy/siplb.conf deploy/nodes.conf \
	    $(DESTDIR)$(PREFIX)/share/siplb/examples/
	install -d $(DESTDIR)$(DOCDIR)
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/
ifneq ($(SCDOC),)
	for p in $(MAN_PAGES); do s=$${p##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s && \
	    install -m 0644 $$p $(DESTDIR)$(MANDIR)/man$$s/ || exit 1; done
else
	@echo "install: scdoc is not installed, so no man pages (make deps)" >&2
endif

# clang-format (.clang-format) over the C sources; format-check fails when
# a file would change.
FORMAT_SRCS = $(wildcard services/*/*.[ch] tests/unit/*.[ch] tests/fuzz/*.c tests/tools/*.c scripts/*.c)
format:
	$(Q)clang-format -i $(FORMAT_SRCS)

format-check:
	$(Q)clang-format --dry-run --Werror $(FORMAT_SRCS) && echo "format: $(words $(FORMAT_SRCS)) files as .clang-format wants (make format)"

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
