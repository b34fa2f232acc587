"""BTRFS backups: snapshot naming, the pure retention planner, transfer decisions,
restore tests, space-forecast rotation, the run lock and the status the health score
reads. Host changes themselves are pyinfra operations in homelab_ops.collection."""
