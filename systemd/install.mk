# make install / uninstall, and make test-systemd (tests/systemd/run.sh).
# Paths follow the GNU conventions; DESTDIR stages a package.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
MANDIR     ?= $(PREFIX)/share/man
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
INSTALL    ?= install

UNITS := netdemo@.service netdemo-http.socket

.PHONY: install uninstall test-systemd

# What is installed is always the release build, build/netdemo, hardened
# (see HARDEN_CFLAGS): SAN=1 is a flavour for tests, and `make SAN=1 install`
# says so and installs the release build, as nginx's and redis's install
# targets install what their release build made whatever else was built.
install:
ifeq ($(SAN),1)
	@echo "install: SAN=1 builds for tests only; installing the release build build/netdemo"
endif
	@$(MAKE) --no-print-directory SAN= all
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/netdemo \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	$(INSTALL) -m 755 build/netdemo $(DESTDIR)$(BINDIR)/netdemo
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    systemd/netdemo@.service.in > $(DESTDIR)$(UNITDIR)/netdemo@.service
	chmod 644 $(DESTDIR)$(UNITDIR)/netdemo@.service
	$(INSTALL) -m 644 systemd/netdemo-http.socket $(DESTDIR)$(UNITDIR)/netdemo-http.socket
	$(INSTALL) -d $(DESTDIR)$(SYSUSERSDIR)
	$(INSTALL) -m 644 systemd/netdemo.sysusers $(DESTDIR)$(SYSUSERSDIR)/netdemo.conf
	@# The unit's user: made now when installing for real (a package's
	@# postinst would run the same), left to the package when staging.
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v systemd-sysusers >/dev/null; then \
	    systemd-sysusers $(SYSUSERSDIR)/netdemo.conf; \
	fi
	$(INSTALL) -m 644 man/netdemo.8 $(DESTDIR)$(MANDIR)/man8/netdemo.8
	$(INSTALL) -m 644 man/netdemo.ini.5 $(DESTDIR)$(MANDIR)/man5/netdemo.ini.5
	@# The configuration is the operator's: installed only if there is none.
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/netdemo/netdemo.ini ]; then \
	    echo "keeping $(DESTDIR)$(SYSCONFDIR)/netdemo/netdemo.ini"; \
	else \
	    $(INSTALL) -m 644 conf/netdemo.ini $(DESTDIR)$(SYSCONFDIR)/netdemo/netdemo.ini; \
	fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/netdemo $(DESTDIR)$(UNITDIR)/netdemo@.service \
	    $(DESTDIR)$(UNITDIR)/netdemo-http.socket $(DESTDIR)$(MANDIR)/man8/netdemo.8 \
	    $(DESTDIR)$(SYSUSERSDIR)/netdemo.conf \
	    $(DESTDIR)$(MANDIR)/man5/netdemo.ini.5
	@echo "left $(DESTDIR)$(SYSCONFDIR)/netdemo/netdemo.ini and the user netdemo in place"

test-systemd: all
	@bash tests/systemd/run.sh
