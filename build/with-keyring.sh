#!/usr/bin/env bash
# Runs a command inside a private D-Bus session with an unlocked gnome-keyring, so keytar
# talks to a real Secret Service that lives and dies with the command.
#   build/with-keyring.sh <command> [args…]
set -euo pipefail
if [ -z "${HALFKEY_IN_KEYRING_SESSION:-}" ]; then
  keyring_home="$(mktemp -d "${TMPDIR:-/tmp}/halfkey-keyring.XXXXXX")"
  export HALFKEY_KEYRING_HOME="$keyring_home" HALFKEY_IN_KEYRING_SESSION=1
  exec dbus-run-session -- "$0" "$@"
fi
# Inside the session: start the daemon with its own existing HOME (without one it hangs ~25 s).
eval "$(printf 'halfkey-test-keyring' | HOME="$HALFKEY_KEYRING_HOME" gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
exec "$@"
