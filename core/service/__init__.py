"""Living under a service manager: systemd's notify protocol, watchdog and socket activation,
and the unit files (systemd, launchd) that run the daemon."""
