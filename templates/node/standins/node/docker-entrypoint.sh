#!/bin/sh
# keelson stand-in: the official node image's entrypoint, unchanged in behaviour.
set -e

# run the command with node if the first argument starts with "-", is not a
# system command, or is a file that is not executable
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi

exec "$@"
