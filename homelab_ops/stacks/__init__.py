"""Stacks: services drawn from the nine patterns, validated, rendered to quadlet units or
``podman run`` arguments, deployed through pyinfra, checked by testinfra (health) and
compared with the live host (drift). Everything starts from ``ContainerSpec``."""
