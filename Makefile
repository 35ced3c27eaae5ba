# siplb: build into $(BUILD) with -MMD; quiet unless V=1.
#   make            build every program
#   make test       deps, build, unit tests (plain and ASan+UBSan), integration
#   make lab        deps, build, start the suite on this host
#   make install    PREFIX=/usr/local DESTDIR=

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
            -I$(BUILD)/proto -Iservices/common -iquote services/scheduler -iquote services/edge -iquote services/prober -iquote services/dialogd -iquote services/admin -MMD -MP
ifneq ($(SAN),)
CFLAGS   += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
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

SCHED_SRCS  := $(filter-out services/scheduler/main.c,$(wildcard services/scheduler/*.c))
SCHED_OBJS  := $(SCHED_SRCS:%.c=$(BUILD)/obj/%.o)
SCHED_LIBS  := $(MYSQL_LIBS) -lm

EDGE_SRCS   := $(filter-out services/edge/main.c,$(wildcard services/edge/*.c))
EDGE_OBJS   := $(EDGE_SRCS:%.c=$(BUILD)/obj/%.o)

PROBER_SRCS  := $(wildcard services/prober/*.c)
PROBER_OBJS  := $(PROBER_SRCS:%.c=$(BUILD)/obj/%.o)
DIALOGD_SRCS := $(wildcard services/dialogd/*.c)
DIALOGD_OBJS := $(DIALOGD_SRCS:%.c=$(BUILD)/obj/%.o)
ADMIN_SRCS   := $(wildcard services/admin/*.c)
ADMIN_OBJS   := $(ADMIN_SRCS:%.c=$(BUILD)/obj/%.o)

PROGS := $(BUILD)/bin/siplb-scheduler $(BUILD)/bin/siplbctl $(BUILD)/bin/siplb-edge \
         $(BUILD)/bin/siplb-bench-client $(BUILD)/bin/fake-edge \
         $(if $(PROBER_SRCS),$(BUILD)/bin/siplb-prober) \
         $(if $(DIALOGD_SRCS),$(BUILD)/bin/siplb-dialogd) \
         $(if $(ADMIN_SRCS),$(BUILD)/bin/siplb-admin)

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps test unit unit-asan integration test-ha test-compose lab lab-down install clean bench
all: $(PROGS)

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

$(BUILD)/obj/%.o: %.c $(PROTO_H)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(MYSQL_CFLAGS) $(CFLAGS) $(WARN) -c $< -o $@

$(LIBSIPLB): $(COMMON_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/libsched.a: $(SCHED_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/siplb-scheduler: $(BUILD)/obj/services/scheduler/main.o $(BUILD)/libsched.a $(LIBSIPLB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(SCHED_LIBS) $(BASE_LIBS)

$(BUILD)/libedge.a: $(EDGE_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/siplb-edge: $(BUILD)/obj/services/edge/main.o $(BUILD)/libedge.a $(BUILD)/libsched.a $(LIBSIPLB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -losipparser2 $(SCHED_LIBS) $(BASE_LIBS)

# siplb-prober and siplb-dialogd link the scheduler's library for the node
# table and protobuf conversions they share.
$(BUILD)/bin/siplb-prober: $(PROBER_OBJS) $(BUILD)/libsched.a $(LIBSIPLB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -losipparser2 $(SCHED_LIBS) $(BASE_LIBS)

$(BUILD)/bin/siplb-dialogd: $(DIALOGD_OBJS) $(BUILD)/libsched.a $(LIBSIPLB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lsqlite3 $(SCHED_LIBS) $(BASE_LIBS)

$(BUILD)/bin/siplb-admin: $(ADMIN_OBJS) $(BUILD)/libsched.a $(LIBSIPLB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lmicrohttpd -ljansson $(SCHED_LIBS) $(BASE_LIBS)

$(BUILD)/bin/siplbctl: $(BUILD)/obj/services/siplbctl/main.o $(LIBSIPLB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -ljansson $(BASE_LIBS)

$(BUILD)/bin/siplb-bench-client: $(BUILD)/obj/scripts/bench-client.o $(LIBSIPLB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(BASE_LIBS) -lm

$(BUILD)/bin/fake-edge: $(BUILD)/obj/tests/tools/fake-edge.o $(LIBSIPLB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(BASE_LIBS)

# Unit tests: one binary per module, linked with every library so a test
# can reach any module's internals.
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libedge.a $(BUILD)/libsched.a $(LIBSIPLB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka -losipparser2 -lsqlite3 $(SCHED_LIBS) $(BASE_LIBS)

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
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory unit-asan
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
	install -m 0755 $(filter-out %/siplb-bench-client %/fake-edge,$(PROGS)) \
	    $(DESTDIR)$(PREFIX)/bin/
	install -d $(DESTDIR)$(SYSTEMDDIR)
	for f in deploy/systemd/*.service.in; do \
	    sed 's|@BINDIR@|$(PREFIX)/bin|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' $$f \
	        > $(DESTDIR)$(SYSTEMDDIR)/$$(basename $${f%.in}); done
	install -m 0644 deploy/systemd/siplb.target $(DESTDIR)$(SYSTEMDDIR)/
	install -d $(DESTDIR)$(PREFIX)/share/siplb/keepalived
	install -m 0644 deploy/keepalived/*.conf $(DESTDIR)$(PREFIX)/share/siplb/keepalived/
	install -m 0755 deploy/keepalived/keepalived-notify.sh $(DESTDIR)$(PREFIX)/share/siplb/
	install -m 0644 deploy/sql/*.sql $(DESTDIR)$(PREFIX)/share/siplb/sql/
	install -m 0644 deploy/siplb.conf deploy/nodes.conf \
	    $(DESTDIR)$(PREFIX)/share/siplb/examples/

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
