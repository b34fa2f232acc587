"""An example inventory for a real homelab reached over SSH. Copy it and edit.

Host data keys homelab-ops reads are documented in group_data/all.py.
"""

homelab = [
    (
        "nas",
        {
            "ssh_hostname": "192.0.2.10",  # documentation address: replace with your host
            "ssh_user": "root",
            "ssh_key": "~/.ssh/id_ed25519",
        },
    ),
]
