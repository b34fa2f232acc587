"""pyinfra facts for podman, BTRFS, systemd and the host."""
