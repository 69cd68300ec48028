#!/bin/sh
# perl-sentry launcher: starts the host with W^X off (see HostProcess.EnsureWriteXorExecuteDisabled).
DOTNET_EnableWriteXorExecute=0 exec "$(dirname "$(readlink -f "$0")")/perl-sentry-host" "$@"
