#!/bin/sh
# install-packages.sh PKG...: install the Debian packages that are missing,
# nothing else.  With every package already in the base image (the test's
# mmdebstrap rootfs, built with no network inside the engine) it does not
# call apt-get at all; with debian:bookworm it installs them without
# recommends and drops the package lists afterwards.
set -eu
missing=""
for p in "$@"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
if [ -z "$missing" ]; then
	echo "install-packages: all $# packages already installed"
	exit 0
fi
echo "install-packages: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# no service starts inside an image build (mariadb-server would try)
rc_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 0755 /usr/sbin/policy-rc.d
	rc_policy=/usr/sbin/policy-rc.d
fi
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
apt-get clean
rm -rf /var/lib/apt/lists/* $rc_policy
