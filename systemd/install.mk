# Installation targets; see systemd/README (filled in by the systemd work).
