#!/bin/sh
# perl-sentry launcher: starts the host with W^X off (see HostProcess.EnsureWriteXorExecuteDisabled).
# serve has a host of its own (ASP.NET Core), so run does not pay for loading it.
here=$(dirname "$(readlink -f "$0")")
[ "$1" = serve ] && [ -x "$here/perl-sentry-serve" ] && exec "$here/perl-sentry-serve" "$@"
DOTNET_EnableWriteXorExecute=0 exec "$here/perl-sentry-host" "$@"
