"""Pure helpers the collection's facts, operations and deploys stand on, and the agent
imports from here (as an Ansible collection's ``module_utils``): snapshot naming,
btrbk retention, send decisions, backup layouts and timer units; a stack's per-host
plan, its unit files and podman-run arguments, secret files, container drift. They
import only ``homelab_ops.models`` and the leaf modules ``errors`` and ``locations``,
so ``homelab_ops.collection`` works with none of the agent's packages.
"""
