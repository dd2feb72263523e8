#!/bin/sh
# Proves the unit tier (`npm run test:unit`) needs neither root nor kernel features: runs it as
# the plain user cordon-test, in a user namespace of its own whose user.max_user_namespaces is
# 0, so no test can make a user namespace (nor, without one, a sandbox), and with
# CORDON_LAUNCHER pointing nowhere, so no test can start the launcher. The host's sysctl is
# never touched: the limit is the namespace's own. Needs root (to become the user) and
# util-linux's setpriv and unshare. CONTRIBUTING.md describes it.
set -eu
cd "$(dirname "$0")/.."
user=cordon-test
id -u "$user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
[ -f build/test/plan/contract.test.js ] || { echo "test-unit-unprivileged: run npm run build first" >&2; exit 2; }

# As the user: unshare maps its own uid and keeps the namespace's capabilities just long enough
# to set the namespace's limit to 0; setpriv drops them all before node starts.
exec setpriv --reuid "$user" --regid "$user" --clear-groups \
  unshare --user --map-current-user --keep-caps \
  sh -c '
    echo 0 > /proc/sys/user/max_user_namespaces
    exec setpriv --inh-caps=-all --ambient-caps=-all --bounding-set=-all sh -c "
      set -e
      if unshare --user true 2>/dev/null; then echo \"test-unit-unprivileged: user namespaces still work\" >&2; exit 2; fi
      [ \"\$(id -u)\" != 0 ] && ! grep -q \"^CapEff:.*[1-9a-f]\" /proc/self/status
      echo \"test-unit-unprivileged: uid \$(id -u), no capabilities, user namespaces refused\"
      exec env HOME=/nonexistent NODE_EXTRA_CA_CERTS= CORDON_LAUNCHER=/nonexistent/cordon-exec node scripts/run-tests.mjs --unit
    "
  '
